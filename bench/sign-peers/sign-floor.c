/* SPDX-License-Identifier: MIT */
/*
 * The floor for bench/sign: about the least a program can do that signs
 * each file of a list and writes the signed copies to OUTDIR as `probe
 * sign --out-dir` does.  The probe row is read against it: what is left
 * between the two is probe's DKIM work; what is between this row and
 * openssl speed is the file system's, and no signer can have it back.
 *
 * Per file, as probe does it:
 *   - open (relative to the directory of the file before, when it is the
 *     same), fstat, one read, close;
 *   - one SHA-256 over the whole message (DKIM hashes the body and the
 *     signed header fields: about the same bytes, in two hashes);
 *   - the signature of that digest, with the call probe makes: OpenSSL's
 *     EVP_PKEY_sign() (PKCS#1 v1.5, SHA-256) for RSA, libsodium's
 *     crypto_sign_detached() for Ed25519;
 *   - one field with the base64 signature on top of the message, in one
 *     buffer, written as probe writes a new name: an O_TMPFILE file, one
 *     write(), linkat(AT_EMPTY_PATH), close.  With --direct instead:
 *     open(O_CREAT | O_EXCL), write(), close(), which a reader can see
 *     half written (probe does not do that).
 * No DKIM: no line-ending repair, no canonicalization, no choice of
 * header fields, no tags.  The field is "X-Sign-Floor:", not a valid
 * signature; bench/sign checks each output is it on top of the unchanged
 * message.  Time it from outside, start-up included, as the probe row.
 *
 * Build: cc -O2 -o sign-floor sign-floor.c -lcrypto -lsodium
 * Usage: sign-floor [--direct] KEY.pem rsa|ed25519 OUTDIR FILE...
 */
#define _GNU_SOURCE /* O_TMPFILE, AT_EMPTY_PATH */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#define HEAD   1024    /* room for the field in front of the message */
#define MAXMSG 1048576 /* bench/sign's messages are about 2 KB */

static void
die(const char *what, const char *arg)
{
    fprintf(stderr, "sign-floor: %s%s%s\n", what, arg ? ": " : "",
            arg ? arg : "");
    exit(2);
}

int
main(int argc, char **argv)
{
    static unsigned char buf[HEAD + MAXMSG];
    unsigned char sk[crypto_sign_SECRETKEYBYTES],
        pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char seed[32], hash[32], sig[512];
    char dir[4096] = "";
    int direct = 0, ed, ind = -1, od, i;
    EVP_PKEY_CTX *rsa = NULL;
    EVP_MD_CTX *md;
    EVP_MD *sha256;
    EVP_PKEY *key;
    FILE *f;

    if (argc > 1 && strcmp(argv[1], "--direct") == 0) {
        direct = 1;
        argv++, argc--;
    }
    if (argc < 5)
        die("usage: sign-floor [--direct] KEY.pem rsa|ed25519 OUTDIR FILE...",
            NULL);
    ed = strcmp(argv[2], "ed25519") == 0;
    if ((f = fopen(argv[1], "r")) == NULL ||
        (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
        die("cannot read the key", argv[1]);
    fclose(f);
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md = EVP_MD_CTX_new();
    if (ed) {
        size_t slen = sizeof(seed);

        if (sodium_init() < 0 ||
            EVP_PKEY_get_raw_private_key(key, seed, &slen) != 1 || slen != 32 ||
            crypto_sign_seed_keypair(pk, sk, seed) != 0)
            die("not an Ed25519 key", argv[1]);
    } else if ((rsa = EVP_PKEY_CTX_new(key, NULL)) == NULL ||
               EVP_PKEY_sign_init(rsa) <= 0 ||
               EVP_PKEY_CTX_set_rsa_padding(rsa, RSA_PKCS1_PADDING) <= 0 ||
               EVP_PKEY_CTX_set_signature_md(rsa, sha256) <= 0) {
        die("not an RSA key", argv[1]);
    }
    if ((od = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
        die("cannot open the output directory", argv[3]);

    for (i = 4; i < argc; i++) {
        const char *path = argv[i], *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;
        size_t dlen = slash ? (size_t)(slash - path) + 1 : 0, siglen;
        unsigned char *msg = buf + HEAD, *out;
        struct stat st;
        ssize_t n;
        int fd, o, hl;

        if (dlen >= sizeof(dir))
            die("path too long", path);
        if (dlen > 0 &&
            (ind == -1 || strncmp(dir, path, dlen) != 0 || dir[dlen] != '\0')) {
            if (ind != -1)
                close(ind);
            memcpy(dir, path, dlen);
            dir[dlen] = '\0';
            ind = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        fd = dlen > 0 && ind != -1
                 ? openat(ind, name, O_RDONLY | O_NOCTTY | O_CLOEXEC)
                 : open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
            st.st_size > MAXMSG)
            die("cannot read", path);
        n = read(fd, msg, (size_t)st.st_size + 1);
        if (n != st.st_size)
            die("short read", path);
        close(fd);

        if (EVP_DigestInit_ex(md, sha256, NULL) != 1 ||
            EVP_DigestUpdate(md, msg, (size_t)n) != 1 ||
            EVP_DigestFinal_ex(md, hash, NULL) != 1)
            die("SHA-256 failed", path);
        siglen = sizeof(sig);
        if (ed) {
            unsigned long long sl;

            crypto_sign_detached(sig, &sl, hash, sizeof(hash), sk);
            siglen = (size_t)sl;
        } else if (EVP_PKEY_sign(rsa, sig, &siglen, hash, sizeof(hash)) != 1) {
            die("signing failed", path);
        }

        /* the field ends right where the message starts, in the same
         * buffer: one write() */
        {
            char field[HEAD];
            int bl;

            memcpy(field, "X-Sign-Floor: b=", 16);
            bl = EVP_EncodeBlock((unsigned char *)field + 16, sig, (int)siglen);
            memcpy(field + 16 + bl, "\r\n", 2);
            hl = 16 + bl + 2;
            out = msg - hl;
            memcpy(out, field, (size_t)hl);
        }
        if (direct) {
            o = openat(od, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (o == -1 || write(o, out, (size_t)(hl + n)) != hl + n ||
                close(o) != 0)
                die("cannot write", name);
        } else {
            o = openat(od, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0666);
            if (o == -1 || write(o, out, (size_t)(hl + n)) != hl + n)
                die("cannot write", name);
            if (linkat(o, "", od, name, AT_EMPTY_PATH) != 0) {
                /* not root before Linux 6.10: through /proc, as probe */
                char proc[48];

                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o);
                if (errno == EEXIST ||
                    linkat(AT_FDCWD, proc, od, name, AT_SYMLINK_FOLLOW) != 0)
                    die("cannot link", name);
            }
            if (close(o) != 0)
                die("cannot write", name);
        }
    }
    return 0;
}
