#!/usr/bin/env bash
# layers.sh -- no call goes from a lower layer up, or sideways between
# layers side by side (ctest unit.layers; CMakeLists.txt lists the layers).
#
#   layers.sh [--allow USER:OWNER]... NAME=FILES... [-- NAME=FILES...]...
#
# Each NAME=FILES is one layer's library or objects (FILES: a ;-list, or
# the files as the next arguments);
# "--" starts the next level up, and layers of one level are side by side.
# Every global symbol a layer uses that another layer defines must come from
# a lower level; --allow USER:OWNER lets layer USER use OWNER's symbols
# (a known exception, named in CMakeLists.txt with its reason).
set -euo pipefail
declare -A level files allowed
names=()
lv=0
while [ $# -gt 0 ]; do
    case $1 in
        --allow) allowed[$2]=1; shift 2; continue ;;
        --) lv=$((lv + 1)) ;;
        [a-z]*=*) n=${1%%=*}; names+=("$n"); level[$n]=$lv; files[$n]=${1#*=} ;;
        *) [ ${#names[@]} -gt 0 ] || { echo "layers.sh: bad argument $1" >&2; exit 2; }
           files[$n]+=";$1" ;; # a list split into arguments: more files of layer n
    esac
    shift
done
[ ${#names[@]} -ge 2 ] || { echo "layers.sh: need at least two layers" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
syms() { # $1 = defined|undefined, $2 = ;-list of files
    local IFS=';' f
    for f in $2; do
        if [ "$1" = defined ]; then nm -P -g --defined-only "$f"; else nm -P -u "$f"; fi
    done | awk 'NF >= 2 && $2 ~ /^[A-Za-z]$/ { print $1 }' | sort -u
}
for n in "${names[@]}"; do
    syms defined "${files[$n]}" | sed "s/\$/ $n/" >>"$tmp/defs"
    syms undefined "${files[$n]}" >"$tmp/uses.$n"
done
sort -k1,1 "$tmp/defs" >"$tmp/defs.sorted"

bad=0
for n in "${names[@]}"; do
    while read -r sym owner; do
        [ "$owner" = "$n" ] && continue
        [ "${level[$owner]}" -lt "${level[$n]}" ] && continue
        [ -n "${allowed[$n:$owner]:-}" ] && continue
        echo "layers: $n uses $sym of $owner (level ${level[$owner]}, not below $n's ${level[$n]})"
        bad=1
    done < <(join "$tmp/uses.$n" "$tmp/defs.sorted")
done
[ $bad = 0 ] && echo "layers: ${names[*]}: every use goes down"
exit $bad
