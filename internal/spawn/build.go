package spawn

import (
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds the main package of the current directory (a command's
// own tests run there) as a static binary named name, in a temporary
// directory that remove deletes. It panics when the build fails: it is
// meant for TestMain, which has no *testing.T to fail.
func Build(name string) (path string, remove func()) {
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		panic(err)
	}
	path = filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", path, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("build " + name + ": " + err.Error() + "\n" + string(out))
	}
	return path, func() { os.RemoveAll(dir) }
}
