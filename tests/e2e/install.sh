#!/usr/bin/env bash
# Installing and packaging: `cmake --install` of the build puts the binary, the man page (made from the
# binary's --help), bash completion and the docs in place, and they work from there; `cpack` makes a
# Debian package holding them, with its dependencies named.
source "$(dirname "$0")/common.sh"
build=$(cd "$(dirname "$ASLNET")" && pwd)
[[ -f $build/CMakeCache.txt ]] || skip "$build is not a CMake build folder"
work="$WORK-install"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAILED: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/usr" > "$work/install.txt"
usr=$work/usr
"$usr/bin/aslnet" --version | grep -q "^aslnet " || fail "the installed binary does not run"
[[ -f $usr/share/doc/aslnet/README.md && -f $usr/share/doc/aslnet/docs/design.md ]] || fail "no docs installed"
man_page=$usr/share/man/man1/aslnet.1
grep -q '^\.SS "aslnet train"' "$man_page" && grep -q -- '--epochs INT' "$man_page" && grep -q '"aslnet bench kernels"' "$man_page" ||
  fail "the man page lacks a command's section or options"
if command -v man > /dev/null; then
  man -l "$man_page" 2> /dev/null | grep -q "train, evaluate and serve" || fail "man cannot read the page"
fi

# Completion, as bash would call it after <TAB>.
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _aslnet; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$usr/share/bash-completion/completions/aslnet" "$@"
}
PATH="$usr/bin:$PATH"
complete_words aslnet tr | grep -qx train || fail "completion: 'aslnet tr' gives $(complete_words aslnet tr)"
complete_words aslnet train --epo | grep -qx -- --epochs || fail "completion: no --epochs for train"
complete_words aslnet bench ker | grep -qx kernels || fail "completion: no bench kernels"
complete_words aslnet bench kernels --it | grep -qx -- --iters || fail "completion: no --iters for bench kernels"
echo "installed: binary, man page, completion, docs"

if command -v cpack > /dev/null && command -v dpkg-deb > /dev/null; then
  (cd "$work" && cpack --config "$build/CPackConfig.cmake" -B "$work/package" > "$work/cpack.txt") ||
    { cat "$work/cpack.txt"; fail "cpack"; }
  deb=$(ls "$work"/package/aslnet_*.deb)
  dpkg-deb -c "$deb" > "$work/contents.txt"
  grep -q "./usr/bin/aslnet$" "$work/contents.txt" || fail "$deb holds no usr/bin/aslnet"
  grep -q "./usr/share/man/man1/aslnet.1" "$work/contents.txt" || fail "$deb holds no man page"
  dpkg-deb -f "$deb" Depends | grep -q libturbojpeg0 || fail "$deb names no dependencies"
  echo "package: $(basename "$deb"), depends: $(dpkg-deb -f "$deb" Depends)"
else
  echo "no cpack or dpkg-deb here: the package was not built"
fi
