#!/usr/bin/env bash
# Builds the kube-apiserver that internal/kubetest runs (a real API server on
# loopback, for the tests that apply Istio resources), from this nested module
# (k8s.io/kubernetes v1.37.2), and links Debian's etcd beside it:
#   bash tools/kube/build.sh [OUTDIR]
# OUTDIR defaults to $FAULTLINE_KUBE_ASSETS, else
# ~/.cache/faultline/kube-v1.37.2; point FAULTLINE_KUBE_ASSETS at it for the
# tests. Nothing is rebuilt when OUTDIR/kube-apiserver exists already. A cold
# build takes about 5 minutes on 2 cores and about 3 GB of memory.
# etcd: apt-get install etcd-server (Debian's etcd 3.4 works with it).
set -euo pipefail
export GOTOOLCHAIN=local

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-${FAULTLINE_KUBE_ASSETS:-$HOME/.cache/faultline/kube-v1.37.2}}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -x "$out/kube-apiserver" ]; then
	echo "kube-apiserver: $out/kube-apiserver exists, not rebuilt" >&2
else
	echo "kube-apiserver: building into $out (takes minutes)" >&2
	version=v1.37.2
	# Build to a temporary name so an interrupted build leaves no binary
	# that the check above would take for a finished one.
	(cd "$here" && CGO_ENABLED=0 go build -mod=readonly -trimpath \
		-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" \
		-o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
	mv -f "$out/kube-apiserver.tmp" "$out/kube-apiserver"
fi

if [ ! -e "$out/etcd" ]; then
	if etcd=$(command -v etcd); then
		ln -sf "$etcd" "$out/etcd"
	else
		echo "etcd: not on PATH; apt-get install etcd-server, or put etcd in $out" >&2
	fi
fi
