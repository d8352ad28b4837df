#!/bin/sh
# packaging/build.sh -- build the Debian or the RPM package from a
# release tarball (make dist), with the packaging files the tarball
# carries, so what is tested is what is shipped.
#
#   build.sh deb|rpm TARBALL OUTDIR
#
# deb: dpkg-buildpackage -us -uc on TARBALL as the .orig.tar.gz plus
#      packaging/debian; needs the Build-Depends installed.
# rpm: rpmbuild -ba --nodeps on packaging/rpm/dashcgi.spec (the build
#      dependencies are Fedora names, unknown to this Debian machine).
# Both build the web UI too (npm ci: network or a filled npm cache).
# The packages, and a build log per kind, end up in OUTDIR.
set -eu

usage() {
	echo "usage: $0 deb|rpm TARBALL OUTDIR" >&2
	exit 2
}
[ $# -eq 3 ] || usage
kind=$1
tarball=$(readlink -f "$2")
mkdir -p "$3"
out=$(readlink -f "$3")
[ -f "$tarball" ] || { echo "$0: no tarball $2" >&2; exit 2; }

base=$(basename "$tarball" .tar.gz)		# dashcgi-X.Y.Z
name=${base%-*}
version=${base##*-}
work=$out/build-$kind
log=$out/build-$kind.log
rm -rf "$work"
mkdir -p "$work"

run() {
	# The whole build log goes to a file; its tail shows on failure.
	if ! "$@" >>"$log" 2>&1; then
		tail -40 "$log" >&2
		echo "$0: $kind build failed; the whole log is $log" >&2
		exit 1
	fi
}

: >"$log"
# The web UI's build runs npm ci: from the builder's own npm cache
# (debhelper points HOME elsewhere), downloading only what it lacks.
npm_config_cache=${npm_config_cache:-${HOME:-/root}/.npm}
export npm_config_cache
case $kind in
deb)
	for t in dpkg-buildpackage dh; do
		command -v $t >/dev/null || {
			echo "$0: $t not found: apt-get install dpkg-dev debhelper" >&2
			exit 1
		}
	done
	cp "$tarball" "$work/${name}_$version.orig.tar.gz"
	tar -C "$work" -xzf "$tarball"
	src=$work/$base
	cp -R "$src/packaging/debian" "$src/debian"
	debver=$(cd "$src" && dpkg-parsechangelog -S Version)
	if [ "${debver%-*}" != "$version" ]; then
		echo "$0: debian/changelog is at $debver, the tarball at" \
		    "$version: add a changelog entry" >&2
		exit 1
	fi
	(cd "$src" && run dpkg-buildpackage -us -uc)
	rm -f "$out"/*.deb "$out"/*.changes "$out"/*.dsc "$out"/*.buildinfo
	cp "$work"/*.deb "$work"/*.changes "$work"/*.dsc \
	    "$work"/*.buildinfo "$work"/*.debian.tar.* \
	    "$work"/*.orig.tar.gz "$out"/
	ls "$out"/*.deb
	;;
rpm)
	command -v rpmbuild >/dev/null || {
		echo "$0: rpmbuild not found: apt-get install rpm" >&2
		exit 1
	}
	tar -C "$work" -xzf "$tarball" "$base/packaging/rpm"
	spec=$work/$base/packaging/rpm/$name.spec
	mkdir -p "$work/SOURCES"
	cp "$tarball" "$work/SOURCES/"
	specver=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
	if [ "$specver" != "$version" ]; then
		echo "$0: $name.spec is at $specver, the tarball at $version" >&2
		exit 1
	fi
	run rpmbuild -ba --nodeps \
	    --define "_topdir $work/rpmbuild" \
	    --define "_sourcedir $work/SOURCES" \
	    "$spec"
	rm -f "$out"/*.rpm
	cp "$work"/rpmbuild/RPMS/*/*.rpm "$work"/rpmbuild/SRPMS/*.rpm \
	    "$work/$base/packaging/rpm/$name.rpmlintrc" "$out"/
	ls "$out"/*.rpm
	;;
*)
	usage
	;;
esac
