package safety

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/faultline/faultline/scenarios"
)

// ContainerPolicy is what container endpoints (spec.services[].endpoints[]
// .container) a server starts for documents it was sent: the files a user
// runs with `faultline run` are theirs and have none.
type ContainerPolicy struct {
	// BuildDirs are the directories a build context must lie under, as
	// NewContainerPolicy resolved them; none refuses every build.
	BuildDirs []string
	// Images are the globs (path.Match: "faultline-demo:*") an image must
	// match, its tag ":latest" when it names none; none refuses every
	// image.
	Images []string
}

// NewContainerPolicy builds the policy of serve --allow-build-dir and
// --allow-image: each directory made absolute, cleaned and its symlinks
// resolved (it must exist), each glob checked.
func NewContainerPolicy(buildDirs, images []string) (*ContainerPolicy, error) {
	p := &ContainerPolicy{}
	for _, d := range buildDirs {
		abs, err := filepath.Abs(d)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			return nil, fmt.Errorf("--allow-build-dir %s: %w", d, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--allow-build-dir %s: not a directory", d)
		}
		p.BuildDirs = append(p.BuildDirs, abs)
	}
	for _, g := range images {
		if _, err := path.Match(g, ""); err != nil || strings.TrimSpace(g) == "" {
			return nil, fmt.Errorf("--allow-image %q: not a glob such as faultline-demo:*", g)
		}
		p.Images = append(p.Images, g)
	}
	return p, nil
}

// ContainerError is a container endpoint the policy refuses.
type ContainerError struct {
	Field   string
	Message string
}

func (e *ContainerError) Error() string { return e.Field + ": " + e.Message }

// FieldPath names the field at fault.
func (e *ContainerError) FieldPath() string { return e.Field }

// CheckContainers refuses the first container endpoint of doc that the
// policy does not allow, naming its field; a nil policy allows all.
func CheckContainers(doc *scenarios.Document, p *ContainerPolicy) error {
	if p == nil {
		return nil
	}
	for i, svc := range doc.Experiment.Spec.Services {
		for j, ep := range svc.Endpoints {
			if ep.Container == nil {
				continue
			}
			field := fmt.Sprintf("spec.services[%d].endpoints[%d].container", i, j)
			if err := p.check(field, ep.Container); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *ContainerPolicy) check(field string, c *scenarios.Container) error {
	if c.Build != nil {
		return p.checkBuild(field+".build.context", c.Build.Context)
	}
	ref := imageRef(c.Image)
	for _, g := range p.Images {
		if ok, _ := path.Match(g, ref); ok {
			return nil
		}
	}
	if len(p.Images) == 0 {
		return &ContainerError{field + ".image", fmt.Sprintf("%s: this server starts no image for documents it is sent; its operator allows images with serve --allow-image PATTERN (such as faultline-demo:*)", c.Image)}
	}
	return &ContainerError{field + ".image", fmt.Sprintf("%s matches none of the images this server allows (%s; serve --allow-image)", c.Image, strings.Join(p.Images, ", "))}
}

func (p *ContainerPolicy) checkBuild(field, dir string) error {
	if len(p.BuildDirs) == 0 {
		return &ContainerError{field, "this server builds no image for documents it is sent; its operator allows build directories with serve --allow-build-dir DIR"}
	}
	allowed := strings.Join(p.BuildDirs, ", ")
	if !filepath.IsAbs(dir) {
		return &ContainerError{field, fmt.Sprintf("%q is relative, and a document sent to the server has no directory of its own: name a directory under %s", dir, allowed)}
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(dir))
	if errors.Is(err, os.ErrNotExist) {
		return &ContainerError{field, fmt.Sprintf("%s does not exist on the server", dir)}
	}
	if err != nil {
		return &ContainerError{field, fmt.Sprintf("%s: %v", dir, err)}
	}
	for _, base := range p.BuildDirs {
		if within(base, real) {
			return nil
		}
	}
	msg := fmt.Sprintf("%s is not under a directory this server builds from (%s; serve --allow-build-dir)", dir, allowed)
	if real != filepath.Clean(dir) {
		msg = fmt.Sprintf("%s (%s, its links resolved) is not under a directory this server builds from (%s; serve --allow-build-dir)", dir, real, allowed)
	}
	return &ContainerError{field, msg}
}

// within reports whether path p lies in directory dir (or is it).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// imageRef is an image reference with the tag Docker assumes: ":latest"
// when it names neither a tag nor a digest.
func imageRef(image string) string {
	name := image[strings.LastIndex(image, "/")+1:]
	if strings.ContainsAny(name, ":@") {
		return image
	}
	return image + ":latest"
}
