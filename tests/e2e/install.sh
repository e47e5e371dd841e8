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
grep -q "^aslnet " <<< "$("$usr/bin/aslnet" --version)" || fail "the installed binary does not run"
[[ -f $usr/share/doc/aslnet/README.md && -f $usr/share/doc/aslnet/docs/design.md ]] || fail "no docs installed"
man_page=$usr/share/man/man1/aslnet.1
grep -q '^\.SS "aslnet train"' "$man_page" && grep -q -- '--epochs INT' "$man_page" && grep -q '"aslnet bench kernels"' "$man_page" ||
  fail "the man page lacks a command's section or options"
if command -v man > /dev/null; then
  grep -q "train, evaluate and serve" <<< "$(man -l "$man_page" 2> /dev/null)" || fail "man cannot read the page"
fi

# Completion, as bash would call it after <TAB>.
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _aslnet; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$usr/share/bash-completion/completions/aslnet" "$@"
}
PATH="$usr/bin:$PATH"
completes() { local words; words=$(complete_words "${@:2}"); grep -qx -- "$1" <<< "$words" || fail "completion: '${*:2}' gives: $words"; }
completes train aslnet tr
completes --epochs aslnet train --epo
completes kernels aslnet bench ker
completes --iters aslnet bench kernels --it
echo "installed: binary, man page, completion, docs"

if command -v cpack > /dev/null && command -v dpkg-deb > /dev/null; then
  (cd "$work" && cpack --config "$build/CPackConfig.cmake" -B "$work/package" > "$work/cpack.txt") ||
    { cat "$work/cpack.txt"; fail "cpack"; }
  deb=$(ls "$work"/package/aslnet_*.deb)
  dpkg-deb -c "$deb" > "$work/contents.txt"
  grep -q "./usr/bin/aslnet$" "$work/contents.txt" || fail "$deb holds no usr/bin/aslnet"
  grep -q "./usr/share/man/man1/aslnet.1" "$work/contents.txt" || fail "$deb holds no man page"
  grep -q libturbojpeg0 <<< "$(dpkg-deb -f "$deb" Depends)" || fail "$deb names no dependencies"
  echo "package: $(basename "$deb"), depends: $(dpkg-deb -f "$deb" Depends)"
else
  echo "no cpack or dpkg-deb here: the package was not built"
fi
