# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# allocators.sh - where the allocators compared by the tools live.
#
# Sourced by tools/bench-larson, tools/callgrind-fastpath and tools/main-job;
# not run on its own.  An allocator is named hakmem, glibc, mimalloc,
# jemalloc or tcmalloc, or is one a tool added from its command line (a
# peer by path, a variant of hakmem with settings of its own); alloc_lib
# prints the library to LD_PRELOAD for it (empty for glibc, which needs
# none).  Peers are found through the dynamic
# linker's cache (ldconfig -p) by soname, not by a fixed directory, so any
# multiarch layout works; MIMALLOC_LIB, JEMALLOC_LIB, TCMALLOC_LIB and
# HAKMEM_LIB override the search.

ALLOCATORS=(hakmem glibc mimalloc jemalloc tcmalloc)

# Allocators a tool was told about on its command line: extra peers by
# path (PEER_LIB[name]), and variants of hakmem that run with environment
# settings of their own (VARIANT_ENV[name]: "VAR=VAL VAR=VAL").
declare -A PEER_LIB=() VARIANT_ENV=()

# alloc_name_ok NAME: a new allocator's name is a word not taken yet.
alloc_name_ok() {
	[[ $1 =~ ^[A-Za-z][A-Za-z0-9._-]*$ ]] && ! alloc_known "$1"
}

# alloc_add_peer NAME PATH: another allocator, preloaded from PATH.
alloc_add_peer() {
	alloc_name_ok "$1" || return 1
	PEER_LIB[$1]=$2
	ALLOCATORS+=("$1")
}

# alloc_add_variant NAME "VAR=VAL,...": hakmem with those settings.
alloc_add_variant() {
	local e
	alloc_name_ok "$1" || return 1
	for e in ${2//,/ }; do
		[[ $e =~ ^HAKMEM_[A-Z0-9_]+=.*$ ]] || return 1
	done
	VARIANT_ENV[$1]=${2//,/ }
	ALLOCATORS+=("$1")
}

# alloc_env NAME: the environment settings NAME runs with (variants only).
alloc_env() {
	printf '%s\n' "${VARIANT_ENV[$1]:-}"
}

# alloc_soname NAME: the soname looked up in the linker cache.
alloc_soname() {
	case $1 in
	mimalloc) echo libmimalloc.so.2 ;;
	jemalloc) echo libjemalloc.so.2 ;;
	tcmalloc) echo libtcmalloc_minimal.so.4 ;;
	glibc) echo libc.so.6 ;;
	hakmem) echo libhakmem.so.0 ;;
	*) return 1 ;;
	esac
}

# alloc_pkg NAME: the Debian package that provides it.
alloc_pkg() {
	case $1 in
	mimalloc) echo libmimalloc2.0 ;;
	jemalloc) echo libjemalloc2 ;;
	tcmalloc) echo libtcmalloc-minimal4 ;;
	glibc) echo libc6 ;;
	*) return 1 ;;
	esac
}

# alloc_known NAME: true when NAME is an allocator the tools know.
alloc_known() {
	local a
	for a in "${ALLOCATORS[@]}"; do
		[[ $a == "$1" ]] && return 0
	done
	return 1
}

# ldconfig_lookup SONAME: path of SONAME for this machine's ABI.  The cache
# may list other ABIs too (i386 beside x86-64); take the entry whose tag
# matches libc.so.6's as the running shell uses it.
ldconfig_lookup() {
	local soname=$1 cache libc tag
	cache=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null) || true
	libc=$(ldd "$BASH" 2>/dev/null | awk '$1 == "libc.so.6" { print $3; exit }') || true
	tag=$(awk -v p="$libc" '$1 == "libc.so.6" && $NF == p { print $2; exit }' <<<"$cache")
	awk -v s="$soname" -v t="$tag" '
		$1 == s && (t == "" || $2 == t) { print $NF; exit }' <<<"$cache"
}

# alloc_lib NAME [HAKMEM_PATH]: print the library to preload for NAME; fail
# (printing nothing) when it is not installed or not built.
alloc_lib() {
	local name=$1 path="" var
	case $name in
	glibc)
		return 0
		;;
	hakmem)
		path=$2
		;;
	*)
		if [[ -n ${VARIANT_ENV[$name]:-} ]]; then
			path=$2
		elif [[ -n ${PEER_LIB[$name]:-} ]]; then
			path=${PEER_LIB[$name]}
		else
			var="${name^^}_LIB"
			path=${!var:-}
			[[ -n $path ]] || path=$(ldconfig_lookup "$(alloc_soname "$name")")
		fi
		;;
	esac
	[[ -n $path && -f $path ]] || return 1
	printf '%s\n' "$path"
}

# alloc_missing_msg NAME [HAKMEM_PATH]: one line saying how to get NAME.
alloc_missing_msg() {
	local var="${1^^}_LIB"
	[[ -n ${VARIANT_ENV[$1]:-} ]] && set -- hakmem "$2"
	if [[ -n ${PEER_LIB[$1]:-} ]]; then
		echo "$1 not found at ${PEER_LIB[$1]}"
		return
	fi
	case $1 in
	hakmem) echo "libhakmem.so not found at $2: run 'make' first" ;;
	*)
		if [[ -n ${!var:-} ]]; then
			echo "$1 not found at $var=${!var}"
		else
			echo "$1 not found: apt-get install $(alloc_pkg "$1")"
		fi
		;;
	esac
}

# alloc_abspath PATH: PATH made absolute (the file need not exist).
alloc_abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "$1" ;;
	esac
}
