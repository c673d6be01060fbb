#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DKIM interop for `probe sign`: every signature it makes must verify with
# two independent verifiers, dkimpy (python3-dkim, through
# test/smtp/dkim_verify.py and a DNS stub) and OpenDKIM (`opendkim -t` with
# TestPublicKeys), for rsa-sha256, ed25519-sha256 and both at once, the
# four canonicalizations, over varied messages (long lines, 8-bit text,
# empty body, trailing blank lines, LF-only and CR-only input, folding);
# altered copies must fail; and the command's errors are one line, exit 3.
#
# Installs nothing: it says what is missing (scripts/deps installs it).
# Usage: bash dkim_interop.sh PATH/TO/probe GENDIR
set -u
probe=${1:?usage: dkim_interop.sh PATH/TO/probe GENDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=$here/../data/dkim-sign
verify_py=$here/../smtp/dkim_verify.py
tmp=$(mktemp -d)
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# --- the verifiers -----------------------------------------------------
py=
for c in python3 /usr/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import dkim' 2>/dev/null; then
        py=$c
        break
    fi
done
opendkim=$(command -v opendkim 2>/dev/null || true)
[[ -z $opendkim && -x /usr/sbin/opendkim ]] && opendkim=/usr/sbin/opendkim
missing=()
[[ -n $py ]] || missing+=("python3-dkim (dkimpy, for python3)")
[[ -n $opendkim ]] || missing+=("opendkim (the OpenDKIM filter: its -t mode verifies)")
command -v openssl >/dev/null 2>&1 || missing+=("openssl")
if ((${#missing[@]})); then
    echo "dkim_interop: missing ${missing[*]}; install them (scripts/deps does) and run again"
    exit 1
fi

# --- keys (a key file must be readable by its owner only) -------------
mkdir -p "$tmp/keys" "$tmp/signed"
key() { # key NAME SOURCE
    cp "$1" "$tmp/keys/$2"
    chmod 600 "$tmp/keys/$2"
}
key "$data/keys/rsa-2048-pkcs1.pem" rsa.pem         # traditional RSA PEM
key "$data/dkimpy/2048_testkey_PKCS8.key" pkcs8.pem # PKCS#8 RSA
key "$data/keys/ed25519.pem" ed.pem                 # PKCS#8 Ed25519
key "$data/rfc8463/brisbane.ed25519.key" seed.key   # base64 seed (RFC 8463)
key "$data/rfc8463/test.rsa.pem" rsa1024.pem        # RSA 1024 (RFC 8463)
d=example.com
{
    echo "rsa._domainkey.$d $(cat "$data/keys/rsa-2048-pkcs1.txt")"
    echo "pkcs8._domainkey.$d $(cat "$data/dkimpy/2048_testkey_PKCS8.key.pub.txt")"
    echo "ed._domainkey.$d $(cat "$data/keys/ed25519.txt")"
    sed -n 's/^brisbane\._domainkey\.football\.example\.com\. IN TXT "\(.*\)"$/brisbane._domainkey.'"$d"' \1/p' \
        "$data/rfc8463/dns.txt"
    echo "test._domainkey.$d $(cat "$data/dkimpy/test.txt")"
    sed -n 's/^\(.*\)\. IN TXT "\(.*\)"$/\1 \2/p' "$data/rfc8463/dns.txt"
} >"$tmp/dns.txt"
cat >"$tmp/opendkim.conf" <<EOF
Mode v
Syslog no
TestPublicKeys $tmp/dns.txt
MinimumKeyBits 1024
MaximumSignaturesToVerify 8
EOF

# dkimpy: all signatures of the files pass (one line per failure)
verify_dkimpy() { # EXPECTED_SIGS FILE...
    local n=$1
    shift
    "$py" "$verify_py" --dns-file "$tmp/dns.txt" --expect "$n" "$@" >"$tmp/py.out" 2>&1
    local rc=$?
    grep -v '^pass ' "$tmp/py.out" | head -20
    return $rc
}

# OpenDKIM: every signature of FILE gets dkim=pass in its
# Authentication-Results, and nothing else does
verify_opendkim() { # EXPECTED_SIGS FILE
    local n=$1 f=$2 out passes others
    out=$("$opendkim" -x "$tmp/opendkim.conf" -vv -t "$f" 2>&1)
    passes=$(grep -o 'dkim=pass' <<<"$out" | wc -l)
    others=$(grep -o 'dkim=[a-z]*' <<<"$out" | grep -vc 'dkim=pass')
    if [[ $passes -ne $n || $others -ne 0 ]]; then
        echo "opendkim on $(basename "$f"): $passes pass of $n, $others other: $(grep -o 'dkim=[a-z]*[^;]*' <<<"$out" | head -3 | tr '\n' ' ')"
        return 1
    fi
}

# --- sign every message every way --------------------------------------
messages=("$data"/messages/*.eml "$data/rfc6376/a1-unsigned.eml"
    "$data/rfc8463/unsigned.eml" "$data/dkimpy/test.message"
    "$data/dkimpy/test_extra.message" "$data/dkimpy/rfc6376.w1258.msg")
declare -A nsigs
signed=()
for m in "${messages[@]}"; do
    for canon in relaxed/relaxed simple/simple relaxed/simple simple/relaxed; do
        for alg in rsa ed both pkcs8 seed rsa1024; do
            case $alg in
            both) args=(--algorithm both --key "$tmp/keys/rsa.pem" --selector rsa
                --key "$tmp/keys/ed.pem" --selector ed) ;;
            rsa) args=(--algorithm rsa-sha256 --key "$tmp/keys/rsa.pem" --selector rsa) ;;
            ed) args=(--algorithm ed25519-sha256 --key "$tmp/keys/ed.pem" --selector ed) ;;
            pkcs8) args=(--key "$tmp/keys/pkcs8.pem" --selector pkcs8) ;;
            seed) args=(--key "$tmp/keys/seed.key" --selector brisbane) ;;
            rsa1024) args=(--key "$tmp/keys/rsa1024.pem" --selector test) ;;
            esac
            # the other keys once per message, with the default canon
            [[ $alg == pkcs8 || $alg == seed || $alg == rsa1024 ]] &&
                [[ $canon != relaxed/relaxed ]] && continue
            out=$tmp/signed/$(basename "$m").${canon/\//-}.$alg.eml
            if "$probe" sign "${args[@]}" --domain "$d" --canon "$canon" <"$m" >"$out" 2>"$tmp/err"; then
                signed+=("$out")
                nsigs[$out]=$([[ $alg == both ]] && echo 2 || echo 1)
                ok
            else
                bad "sign $(basename "$m") $canon $alg: $(head -c 300 "$tmp/err")"
            fi
        done
    done
done
echo "signed ${#signed[@]} messages"

one=() two=()
for f in "${signed[@]}"; do
    if [[ ${nsigs[$f]} == 2 ]]; then two+=("$f"); else one+=("$f"); fi
done
if verify_dkimpy 1 "${one[@]}" && verify_dkimpy 2 "${two[@]}"; then
    ok
else
    bad "dkimpy rejected signatures (above)"
fi
# OpenDKIM's -t mode goes through its milter code, which rewrites what
# follows a field's colon to one space: under simple header
# canonicalization it then fails fields written "Name:value" or with
# several spaces (tight-colon.eml), though the signature is right (dkimpy
# passes it).  Such messages are checked with dkimpy only.
odk_bad=0
for f in "${signed[@]}"; do
    [[ $(basename "$f") == tight-colon.eml.simple-* ]] && continue
    verify_opendkim "${nsigs[$f]}" "$f" || odk_bad=$((odk_bad + 1))
done
if ((odk_bad == 0)); then ok; else bad "OpenDKIM rejected $odk_bad of ${#signed[@]} signed messages"; fi

# the output is CRLF throughout: no bare LF, no bare CR
if "$py" - "${signed[@]}" <<'PY'; then ok; else bad "bare LF or CR in the output (above)"; fi
import re, sys
bad = [f for f in sys.argv[1:] if re.search(rb"(?<!\r)\n|\r(?!\n)", open(f, "rb").read())]
for f in bad[:5]:
    print("bare LF or CR:", f)
sys.exit(1 if bad else 0)
PY

# --- altered copies fail, with both verifiers --------------------------
alter() { # NAME SED-OR-PREPEND FILE
    local name=$1 how=$2 src=$3 dst=$tmp/altered.$1.eml
    case $how in
    prepend-from) { printf 'From: Mallory <mallory@evil.example>\r\n'; cat "$src"; } >"$dst" ;;
    append-from) awk 'BEGIN{done=0} /^\r?$/ && !done {printf "From: Mallory <mallory@evil.example>\r\n"; done=1} {print}' "$src" >"$dst" ;;
    add-subject) awk 'BEGIN{done=0} /^\r?$/ && !done {printf "Subject: urgent\r\n"; done=1} {print}' "$src" >"$dst" ;;
    body) { cat "$src"; printf 'one more line\r\n'; } >"$dst" ;;
    esac
    echo "$dst"
}
base=$tmp/signed/test.message.relaxed-relaxed.both.eml
for how in prepend-from append-from add-subject body; do
    f=$(alter "$how" "$how" "$base")
    if "$py" "$verify_py" --dns-file "$tmp/dns.txt" "$f" >/dev/null 2>&1; then
        bad "dkimpy accepted the $how alteration"
    else
        ok
    fi
    if out=$("$opendkim" -x "$tmp/opendkim.conf" -vv -t "$f" 2>&1) && grep -q 'dkim=pass' <<<"$out"; then
        bad "OpenDKIM passed a signature after the $how alteration"
    else
        ok
    fi
done
# relaxed header canonicalization survives re-folding and case changes
f=$tmp/altered.refold.eml
sed 's/^Subject: Testing/subject:    Testing  /' "$base" >"$f"
if "$py" "$verify_py" --dns-file "$tmp/dns.txt" --expect 2 "$f" >/dev/null 2>&1; then ok; else bad "relaxed signature broken by whitespace"; fi

# --- RFC 8463: the published h= list and both keys ----------------------
f=$tmp/rfc8463.eml
if "$probe" sign --algorithm both --key "$tmp/keys/seed.key" --selector brisbane \
    --key "$tmp/keys/rsa1024.pem" --selector test --domain football.example.com \
    --headers from:to:subject:date:message-id:from:subject:date \
    <"$data/rfc8463/unsigned.eml" >"$f" 2>"$tmp/err" &&
    verify_dkimpy 2 "$f" && verify_opendkim 2 "$f" &&
    [[ $(grep -c 'bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;' "$f") -eq 2 ]]; then
    ok
else
    bad "RFC 8463 message: $(head -c 300 "$tmp/err")"
fi

# --- a custom h= list, and --out-dir -------------------------------------
f=$tmp/custom.eml
if "$probe" sign --key "$tmp/keys/ed.pem" --selector ed --domain "$d" \
    --headers from:subject:x-tabs:from <"$data/messages/whitespace.eml" >"$f" 2>"$tmp/err" &&
    grep -q 'h=from:subject:x-tabs:from;' "$f" && verify_dkimpy 1 "$f" && verify_opendkim 1 "$f"; then
    ok
else
    bad "custom --headers: $(head -c 300 "$tmp/err")"
fi
mkdir -p "$tmp/outdir"
if "$probe" sign --key "$tmp/keys/rsa.pem" --selector rsa --domain "$d" \
    --out-dir "$tmp/outdir" "$data"/messages/*.eml 2>"$tmp/err"; then
    n_in=$(ls "$data"/messages/*.eml | wc -l)
    n_out=$(ls "$tmp/outdir" | wc -l)
    if [[ $n_in -eq $n_out ]] && verify_dkimpy 1 "$tmp"/outdir/*.eml; then ok; else bad "--out-dir: $n_out of $n_in files, or not verified"; fi
else
    bad "--out-dir: $(head -c 300 "$tmp/err")"
fi
# New names are written without a name and linked in (O_TMPFILE); names
# already there are replaced through a temporary name and a rename.  Both
# leave the same verified files and no temporary file behind, also where
# the file system or kernel refuses O_TMPFILE or linking by descriptor.
outdir_same() { # WHAT DIR [ENV...]: DIR matches $tmp/outdir, nothing else in it
    local what=$1 dir=$2 f
    shift 2
    mkdir -p "$dir"
    if ! env "$@" "$probe" sign --key "$tmp/keys/rsa.pem" --selector rsa --domain "$d" \
        --out-dir "$dir" "$data"/messages/*.eml 2>"$tmp/err"; then
        bad "$what: $(head -c 300 "$tmp/err")"
        return
    fi
    for f in "$tmp"/outdir/*.eml; do
        # t= differs when a second passed between the runs: compare the rest
        if ! cmp -s <(sed 's/t=[0-9]*;//; /^ b=/,/^[^ ]/d' "$f") \
            <(sed 's/t=[0-9]*;//; /^ b=/,/^[^ ]/d' "$dir/${f##*/}"); then
            bad "$what: ${f##*/} differs"
            return
        fi
    done
    if [[ -n $(find "$dir" -name '.*' -type f) ]]; then
        bad "$what: temporary files left: $(ls -A "$dir" | head -c 200)"
    elif ! verify_dkimpy 1 "$dir"/*.eml; then
        bad "$what: not verified"
    else
        ok
    fi
}
outdir_same "--out-dir again, over its own files" "$tmp/outdir"
rm -f "$tmp/outdir2/lf-only.eml" 2>/dev/null
outdir_same "--out-dir, some names new" "$tmp/outdir2"
outdir_same "--out-dir, some names new (2)" "$tmp/outdir2"
if cc -shared -fPIC -o "$tmp/fs_refuse.so" "$here/../support/fs_refuse.c" -ldl 2>"$tmp/err"; then
    pre=(LD_PRELOAD="$tmp/fs_refuse.so" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
    outdir_same "--out-dir without O_TMPFILE" "$tmp/outdir-notmp" "${pre[@]}" FS_REFUSE=tmpfile
    outdir_same "--out-dir without linkat by descriptor" "$tmp/outdir-nolink" "${pre[@]}" FS_REFUSE=link
else
    bad "cannot build fs_refuse.so: $(head -c 300 "$tmp/err")"
fi
# Signing loads neither libcurl, GnuTLS nor libetpan (opened on first use,
# probe/pb_lazy.h: they and their 25 dependencies made every start slow);
# --version, which names their versions, does load them.
lazy_inits() { # ARGS...: the lazily opened libraries the run initialized
    LD_DEBUG=libs "$probe" "$@" 2>&1 >/dev/null </dev/null |
        grep -oE 'calling init: .*(libcurl|libetpan|libgnutls)[^ ]*' | sort -u
}
signed_inits=$(lazy_inits sign --key "$tmp/keys/ed.pem" --selector ed --domain "$d" \
    "$data/messages/lf-only.eml")
version_inits=$(lazy_inits --version)
if [[ -n $signed_inits ]]; then
    bad "probe sign loaded: $signed_inits"
elif [[ $(grep -c . <<<"$version_inits") -ne 3 ]]; then
    bad "probe --version did not load libcurl, GnuTLS and libetpan: $version_inits"
else
    ok
fi
# a single FILE argument signs to standard output
if "$probe" sign --key "$tmp/keys/ed.pem" --selector ed --domain "$d" \
    "$data/messages/lf-only.eml" >"$tmp/file.eml" 2>"$tmp/err" && verify_dkimpy 1 "$tmp/file.eml"; then
    ok
else
    bad "FILE to stdout: $(head -c 300 "$tmp/err")"
fi

# --- errors: exit 3, nothing on stdout, exactly one line on stderr -----
usage_error() { # WHAT STDIN ARGS...
    local what=$1 in=$2
    shift 2
    "$probe" "$@" <"$in" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [[ $rc -ne 3 || -s $tmp/out || $lines -ne 1 ]]; then
        bad "$what: exit $rc, stdout $(wc -c <"$tmp/out") bytes, $lines stderr lines: $(head -c 300 "$tmp/err")"
    else
        ok
    fi
}
msg=$data/dkimpy/test.message
K=(--key "$tmp/keys/rsa.pem" --selector rsa --domain "$d")
key "$data/keys/ed25519.pem" group.pem && chmod 640 "$tmp/keys/group.pem"
key "$data/keys/ed25519.pem" world.pem && chmod 604 "$tmp/keys/world.pem"
key "$data/keys/rsa-2048-encrypted.pem" enc.pem
key "$data/keys/rsa-2048-public.pem" pub.pem
key "$data/keys/ec-p256.pem" ec.pem
key "$data/keys/rsa-512.pem" small.pem
key "$data/keys/rsa-4160.pem" big.pem
printf 'not a key\n' >"$tmp/keys/junk.pem" && chmod 600 "$tmp/keys/junk.pem"
printf 'From: a@example.com\r\nFrom: b@example.com\r\nSubject: x\r\n\r\nbody\r\n' >"$tmp/two-from.eml"
printf 'Subject: x\r\nTo: a@example.com\r\n\r\nbody\r\n' >"$tmp/no-from.eml"
printf 'From: a@example.com\r\nSubject: x\r\nThis line is body text\r\n' >"$tmp/no-separator.eml"
printf 'From: a@example.com\r\nSubject: x\0y\r\n\r\nbody\r\n' >"$tmp/nul.eml"
{ printf 'From: a@example.com\r\nX-Big: '; head -c 1048576 /dev/zero | tr '\0' a; printf '\r\n\r\nbody\r\n'; } >"$tmp/big-header.eml"
printf 'From a@example.com Mon Nov  2 10:00:00 2026\nFrom: a@example.com\n\nbody\n' >"$tmp/mbox.eml"
: >"$tmp/empty.eml"
mkdir -p "$tmp/dup1" "$tmp/dup2"
cp "$msg" "$tmp/dup1/m.eml" && cp "$msg" "$tmp/dup2/m.eml"

usage_error "no arguments" "$msg" sign
usage_error "no --key" "$msg" sign --selector rsa --domain "$d"
usage_error "no --selector" "$msg" sign --key "$tmp/keys/rsa.pem" --domain "$d"
usage_error "no --domain" "$msg" sign --key "$tmp/keys/rsa.pem" --selector rsa
usage_error "missing key file" "$msg" sign --key "$tmp/keys/nope.pem" --selector rsa --domain "$d"
usage_error "key is a directory" "$msg" sign --key "$tmp/keys" --selector rsa --domain "$d"
usage_error "group-readable key" "$msg" sign --key "$tmp/keys/group.pem" --selector ed --domain "$d"
usage_error "world-readable key" "$msg" sign --key "$tmp/keys/world.pem" --selector ed --domain "$d"
if ((EUID != 0)); then
    key "$data/keys/ed25519.pem" unreadable.pem && chmod 000 "$tmp/keys/unreadable.pem"
    usage_error "unreadable key" "$msg" sign --key "$tmp/keys/unreadable.pem" --selector ed --domain "$d"
fi
usage_error "encrypted key" "$msg" sign --key "$tmp/keys/enc.pem" --selector rsa --domain "$d"
usage_error "public key" "$msg" sign --key "$tmp/keys/pub.pem" --selector rsa --domain "$d"
usage_error "EC key" "$msg" sign --key "$tmp/keys/ec.pem" --selector rsa --domain "$d"
usage_error "512-bit RSA key" "$msg" sign --key "$tmp/keys/small.pem" --selector rsa --domain "$d"
usage_error "4160-bit RSA key" "$msg" sign --key "$tmp/keys/big.pem" --selector rsa --domain "$d"
usage_error "not a key" "$msg" sign --key "$tmp/keys/junk.pem" --selector rsa --domain "$d"
usage_error "Ed25519 key, rsa-sha256" "$msg" sign --algorithm rsa-sha256 --key "$tmp/keys/ed.pem" --selector ed --domain "$d"
usage_error "RSA key, ed25519-sha256" "$msg" sign --algorithm ed25519-sha256 "${K[@]}"
usage_error "both with one key" "$msg" sign --algorithm both "${K[@]}"
usage_error "both with two RSA keys" "$msg" sign --algorithm both "${K[@]}" --key "$tmp/keys/pkcs8.pem" --selector pkcs8
usage_error "one algorithm, two keys" "$msg" sign --algorithm rsa-sha256 "${K[@]}" --key "$tmp/keys/ed.pem" --selector ed
usage_error "selectors != keys" "$msg" sign --key "$tmp/keys/rsa.pem" --key "$tmp/keys/ed.pem" --selector rsa --domain "$d"
usage_error "same selector twice" "$msg" sign --key "$tmp/keys/rsa.pem" --selector s --key "$tmp/keys/ed.pem" --selector s --domain "$d"
usage_error "three keys" "$msg" sign "${K[@]}" --key "$tmp/keys/ed.pem" --selector ed --key "$tmp/keys/seed.key" --selector b
usage_error "bad algorithm" "$msg" sign --algorithm rsa-sha1 "${K[@]}"
usage_error "bad canon" "$msg" sign --canon relaxed "${K[@]}"
usage_error "selector with _" "$msg" sign --key "$tmp/keys/rsa.pem" --selector my_sel --domain "$d"
usage_error "selector with -" "$msg" sign --key "$tmp/keys/rsa.pem" --selector -sel --domain "$d"
usage_error "empty selector" "$msg" sign --key "$tmp/keys/rsa.pem" --selector "" --domain "$d"
usage_error "domain, final dot" "$msg" sign --key "$tmp/keys/rsa.pem" --selector rsa --domain example.com.
usage_error "domain, one label" "$msg" sign --key "$tmp/keys/rsa.pem" --selector rsa --domain localhost
usage_error "domain, empty label" "$msg" sign --key "$tmp/keys/rsa.pem" --selector rsa --domain "a..example"
usage_error "domain, non-ASCII" "$msg" sign --key "$tmp/keys/rsa.pem" --selector rsa --domain "$(printf 'b\xc3\xbccher.example')"
usage_error "domain, semicolon" "$msg" sign --key "$tmp/keys/rsa.pem" --selector rsa --domain "a.example;x=y"
usage_error "headers without from" "$msg" sign "${K[@]}" --headers to:subject
usage_error "headers with space" "$msg" sign "${K[@]}" --headers "from: to"
usage_error "headers, empty name" "$msg" sign "${K[@]}" --headers "from::to"
usage_error "unknown option" "$msg" sign "${K[@]}" --bogus
usage_error "option without value" "$msg" sign "${K[@]}" --domain
usage_error "two FILEs, no --out-dir" "$msg" sign "${K[@]}" "$msg" "$msg"
usage_error "--out-dir, no FILE" "$msg" sign "${K[@]}" --out-dir "$tmp"
usage_error "--out-dir not a dir" "$msg" sign "${K[@]}" --out-dir "$msg" "$msg"
usage_error "--out-dir, same names" "$msg" sign "${K[@]}" --out-dir "$tmp/outdir" "$tmp/dup1/m.eml" "$tmp/dup2/m.eml"
usage_error "--out-dir over the input" "$msg" sign "${K[@]}" --out-dir "$tmp/dup1" "$tmp/dup1/m.eml"
usage_error "missing FILE" "$msg" sign "${K[@]}" "$tmp/nope.eml"
usage_error "no From" "$tmp/no-from.eml" sign "${K[@]}"
usage_error "two From" "$tmp/two-from.eml" sign "${K[@]}"
usage_error "no header/body separator" "$tmp/no-separator.eml" sign "${K[@]}"
usage_error "NUL byte" "$tmp/nul.eml" sign "${K[@]}"
usage_error "1 MB header line" "$tmp/big-header.eml" sign "${K[@]}"
usage_error "mbox From line" "$tmp/mbox.eml" sign "${K[@]}"
usage_error "empty input" "$tmp/empty.eml" sign "${K[@]}"
usage_error "nothing of dkimpy's no-From message" "$data/dkimpy/test_nofrom.message" sign "${K[@]}"
# a batch with bad files: the good ones are signed, one line says why not
mkdir -p "$tmp/batch"
usage_error "batch with two bad files" "$msg" sign "${K[@]}" --out-dir "$tmp/batch" \
    "$msg" "$tmp/no-from.eml" "$data/messages/lf-only.eml" "$tmp/two-from.eml"
if [[ -s $tmp/batch/test.message && -s $tmp/batch/lf-only.eml && ! -e $tmp/batch/no-from.eml ]] &&
    grep -q 'and 1 more of 4 files not signed' "$tmp/err"; then
    ok
else
    bad "batch: good files not signed or bad summary: $(head -c 300 "$tmp/err")"
fi
# the key file's mode is named in the refusal
"$probe" sign --key "$tmp/keys/group.pem" --selector ed --domain "$d" <"$msg" >/dev/null 2>"$tmp/err"
grep -q 'mode 0640' "$tmp/err" && grep -q 'chmod 600' "$tmp/err" && ok || bad "group-readable key message: $(cat "$tmp/err")"
# --help teaches with examples, exit 0
"$probe" sign --help >"$tmp/out" 2>&1 && grep -q '^Examples:' "$tmp/out" && grep -q -- '--out-dir' "$tmp/out" &&
    ok || bad "--help"

echo "dkim_interop: $pass passed, $fail failed"
((fail == 0))
