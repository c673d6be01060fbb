/* SPDX-License-Identifier: MIT */
/*
 * `probe sign`: add DKIM signatures (RFC 6376; rsa-sha256, and
 * ed25519-sha256 of RFC 8463) to a message on standard input, or to many
 * files at once, with each key loaded once for the whole run.
 */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_log.h"
#include "pb_xalloc.h"
#include "smtp.h"

static const char usage[] =
    "Usage: probe sign --key PEM --selector SEL --domain D [options] "
    "< MESSAGE\n"
    "       probe sign --key PEM --selector SEL --domain D [options] FILE\n"
    "       probe sign --key PEM --selector SEL --domain D [options] "
    "--out-dir DIR FILE...\n"
    "\n"
    "Add a DKIM signature (RFC 6376) to a message and print the signed "
    "message,\n"
    "with CRLF line endings, on standard output; with --out-dir, sign each "
    "FILE\n"
    "into DIR under the same name.  The key is read once for all files.\n"
    "\n"
    "  --key PEM         the private key: PEM (PKCS#8 or traditional RSA, "
    "or\n"
    "                    Ed25519), or the base64 of a 32-byte Ed25519 seed "
    "as\n"
    "                    dkimpy writes it.  Readable by its owner only.\n"
    "  --selector SEL    s=: receivers fetch the public key from the TXT "
    "record\n"
    "                    SEL._domainkey.D\n"
    "  --domain D        d=: the signing domain; for DMARC it should be the "
    "From\n"
    "                    domain or its organizational domain\n"
    "  --algorithm ALG   rsa-sha256, ed25519-sha256 or both (default: what "
    "the\n"
    "                    key is).  both: give --key and --selector twice, "
    "an RSA\n"
    "                    and an Ed25519 key (RFC 8463), in pairs\n"
    "  --canon H/B       header/body canonicalization: relaxed/relaxed "
    "(default),\n"
    "                    simple/simple, relaxed/simple or simple/relaxed\n"
    "  --headers LIST    the exact h= list, colon-separated; list a name "
    "once more\n"
    "                    than it occurs to oversign it.  Default: From, To, "
    "Cc,\n"
    "                    Subject, Date, Message-ID, Reply-To, MIME and "
    "List-\n"
    "                    Unsubscribe fields, In-Reply-To, References, "
    "with From\n"
    "                    and the others a forger would add oversigned\n"
    "  --out-dir DIR     sign each FILE into DIR/NAME (written whole, then "
    "renamed)\n"
    "  -v, --verbose     log what the probe does on stderr\n"
    "  -h, --help        this text\n"
    "\n"
    "Input: one RFC 5322 message with LF, CRLF or CR line endings, at most "
    "64 MiB,\n"
    "exactly one From field.  Output: the DKIM-Signature fields on top, "
    "then the\n"
    "message, CRLF throughout.  Signatures carry t= (the time of signing) "
    "and\n"
    "never l=.  Lines over 998 octets are signed as they are, but relays "
    "may\n"
    "rewrap them and break the signature.\n"
    "\n"
    "Exit status: 0 signed; 3 nothing (or not everything) signed: bad "
    "option,\n"
    "unusable key, or a message that cannot be signed.\n"
    "\n"
    "Examples:\n"
    "  probe sign --key rsa.pem --selector s2024 --domain example.com < "
    "msg.eml\n"
    "  probe sign --key ed.pem --selector ed2024 --domain example.com "
    "msg.eml\n"
    "  probe sign --algorithm both --key rsa.pem --selector s2024 \\\n"
    "      --key ed.pem --selector ed2024 --domain example.com < msg.eml\n"
    "  probe sign --key rsa.pem --selector s2024 --domain example.com \\\n"
    "      --canon simple/simple --out-dir signed/ outbox/*.eml\n"
    "\n"
    "Keys and their DNS records (publish \"v=DKIM1; k=rsa; p=...\" or\n"
    "\"v=DKIM1; k=ed25519; p=...\" at SEL._domainkey.D):\n"
    "  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "
    "rsa.pem\n"
    "  openssl pkey -in rsa.pem -pubout -outform DER | base64 -w0      "
    "# p= for RSA\n"
    "  openssl genpkey -algorithm ed25519 -out ed.pem\n"
    "  openssl pkey -in ed.pem -pubout -outform DER | tail -c 32 | base64"
    "   # p= for Ed25519\n";

enum {
    OPT_KEY = CLI_OPT_FIRST_COMMAND,
    OPT_SELECTOR,
    OPT_DOMAIN,
    OPT_ALGORITHM,
    OPT_CANON,
    OPT_HEADERS,
    OPT_OUT_DIR,
};

/* An RSA and an Ed25519 key, or two keys of one type during rotation. */
#define SIGN_MAX_KEYS 2

/* Print "probe sign: [NAME: ]<err>" (one line) and return CLI_UNKNOWN. */
static int
sign_error(const char *name, const struct pb_err *err)
{
    char n[512];

    if (name == NULL)
        return cli_error("sign", err);
    pb_escape_to(n, sizeof(n), name, strlen(name));
    fprintf(stderr, "probe sign: %s: %s%s%s\n", n, err->msg,
            err->evidence[0] ? ": " : "", err->evidence);
    return CLI_UNKNOWN;
}

/* A path for one line of text: escaped, cut if long. */
static const char *
esc(char *dst, size_t size, const char *s)
{
    pb_escape_to(dst, size, s, strlen(s));
    return dst;
}

/* Read all of fd (a message) within PB_LIMIT_MSG_BYTES. */
static int
read_message(int fd, const char *name, struct pb_buf *b, struct pb_err *err)
{
    switch (pb_buf_read_fd(b, fd)) {
    case 0:
        return 0;
    case -1:
        return pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot read %s: %s", name,
                          strerror(errno));
    default:
        return pb_err_set(err, PB_STAGE_IO, PB_E_LIMIT,
                          "message is over the limit of %u bytes",
                          PB_LIMIT_MSG_BYTES);
    }
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The last path component of path, without trailing slashes. */
static char *
base_name(const char *path)
{
    size_t n = strlen(path), start;

    while (n > 1 && path[n - 1] == '/')
        n--;
    start = n;
    while (start > 0 && path[start - 1] != '/')
        start--;
    return pb_xmemdup(path + start, n - start);
}

/* Sign stdin (path NULL) or one file to stdout. */
static int
sign_to_stdout(const struct dkim_sign_params *params, size_t n,
               const char *path)
{
    struct pb_buf in;
    struct pb_err err;
    char *out = NULL;
    size_t outlen;
    int fd = 0, rc = CLI_UNKNOWN;

    pb_err_clear(&err);
    pb_buf_init(&in, PB_LIMIT_MSG_BYTES);
    if (path != NULL) {
        fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd == -1) {
            pb_err_set(&err, PB_STAGE_IO, PB_E_IO, "cannot open: %s",
                       strerror(errno));
            return sign_error(path, &err);
        }
    } else if (isatty(0)) {
        return cli_usage("sign", "no message on standard input: pipe one "
                                 "in, or give FILE");
    }
    if (read_message(fd, path ? "the file" : "standard input", &in, &err) ==
            -1 ||
        dkim_sign_message(params, n, in.p ? in.p : "", in.len, &out, &outlen,
                          &err) == -1) {
        rc = sign_error(path, &err);
        goto out;
    }
    if (write_all(1, out, outlen) == -1) {
        fprintf(stderr, "probe sign: cannot write standard output: %s\n",
                strerror(errno));
        goto out;
    }
    rc = CLI_OK;
out:
    if (path != NULL)
        close(fd);
    free(out);
    pb_buf_release(&in);
    return rc;
}

/*
 * Sign path into dir/NAME: written to a temporary file in dir and renamed
 * over NAME, so a reader never sees half a message.  The names given to
 * the kernel are prefix + name, relative to dfd (see sign_files()); dir
 * is for messages.  -1 with err set.
 */
static int
sign_file(const struct dkim_sign_params *params, size_t n, const char *path,
          const char *dir, int dfd, const char *prefix, struct pb_err *err)
{
    static unsigned long seq;
    static long pid;
    struct pb_buf in;
    struct stat st_in, st_out;
    char *out = NULL, *base = base_name(path), *dst, *tmp = NULL;
    char e[256], f[256];
    size_t outlen, plen = strlen(prefix);
    int fd, tfd = -1, rc = -1;

    if (pid == 0)
        pid = (long)getpid();
    dst = pb_xasprintf("%s%s", prefix, base);
    pb_buf_init(&in, PB_LIMIT_MSG_BYTES);
    fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot open: %s",
                   strerror(errno));
        goto out;
    }
    if (fstat(fd, &st_in) == -1 || !S_ISREG(st_in.st_mode)) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "not a regular file");
        goto out;
    }
    if (fstatat(dfd, dst, &st_out, 0) == 0 && st_out.st_dev == st_in.st_dev &&
        st_out.st_ino == st_in.st_ino) {
        pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                   "its signed copy would replace it; choose another "
                   "--out-dir");
        goto out;
    }
    if (read_message(fd, "the file", &in, err) == -1 ||
        dkim_sign_message(params, n, in.p ? in.p : "", in.len, &out, &outlen,
                          err) == -1)
        goto out;
    /* a new name of ours; the umask sets the mode, as for any new file */
    do {
        free(tmp);
        tmp = pb_xasprintf("%s.%s.probe-%ld-%lu", prefix, base, pid, seq++);
        tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    } while (tfd == -1 && errno == EEXIST);
    if (tfd == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot create a file in %s: %s",
                   esc(e, sizeof(e), dir), strerror(errno));
        goto out;
    }
    if (write_all(tfd, out, outlen) == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot write %s/%s: %s",
                   esc(e, sizeof(e), dir), esc(f, sizeof(f), tmp + plen),
                   strerror(errno));
        goto out; /* closed and removed below */
    }
    rc = close(tfd);
    tfd = -1;
    if (rc == -1 || renameat(dfd, tmp, dfd, dst) == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot write %s/%s: %s",
                   esc(e, sizeof(e), dir), esc(f, sizeof(f), base),
                   strerror(errno));
        rc = -1;
        unlinkat(dfd, tmp, 0);
        goto out;
    }
    rc = 0;
out:
    if (tfd != -1) {
        close(tfd);
        unlinkat(dfd, tmp, 0);
    }
    if (fd != -1)
        close(fd);
    free(out);
    pb_buf_release(&in);
    free(tmp);
    free(dst);
    free(base);
    return rc;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Refuse FILEs with no name, or two of one name: the second signed copy
 * would replace the first. */
static int
check_names(const char *dir, char **files, int nfiles)
{
    char **names = pb_xcalloc((size_t)nfiles, sizeof(*names));
    char e1[256], e2[256];
    int i, rc = 0;

    for (i = 0; i < nfiles && rc == 0; i++) {
        names[i] = base_name(files[i]);
        if (strcmp(files[i], "-") == 0 || names[i][0] == '\0' ||
            strcmp(names[i], ".") == 0 || strcmp(names[i], "..") == 0)
            rc = cli_usage("sign", "'%s' names no file to sign into --out-dir",
                           esc(e1, sizeof(e1), files[i]));
    }
    if (rc == 0) {
        qsort(names, (size_t)nfiles, sizeof(*names), cmp_str);
        for (i = 1; i < nfiles && rc == 0; i++) {
            if (strcmp(names[i - 1], names[i]) == 0)
                rc = cli_usage("sign",
                               "two FILEs are named '%s'; both would be "
                               "written to %s",
                               esc(e1, sizeof(e1), names[i]),
                               esc(e2, sizeof(e2), dir));
        }
    }
    for (i = 0; i < nfiles; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int
sign_files(const struct dkim_sign_params *params, size_t n, const char *dir,
           char **files, int nfiles)
{
    struct stat st;
    struct pb_err err, first;
    const char *first_file = NULL;
    char e[256], *prefix;
    int i, dfd, failed = 0;

    if (stat(dir, &st) == -1)
        return cli_usage("sign", "--out-dir %s: %s", esc(e, sizeof(e), dir),
                         strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cli_usage("sign", "--out-dir %s is not a directory",
                         esc(e, sizeof(e), dir));
    if (check_names(dir, files, nfiles) != 0)
        return CLI_UNKNOWN;
    /*
     * Name the files relative to dir, opened once, so the kernel does not
     * walk dir's path again in the four calls per file (3 us a file in
     * bench/sign, docs/PERFORMANCE.md).  A directory we may write but not
     * read (mode -wx) cannot be opened so: its files keep whole paths.
     */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    prefix = dfd == -1 ? pb_xasprintf("%s/", dir) : pb_xstrdup("");
    pb_err_clear(&first);
    for (i = 0; i < nfiles; i++) {
        pb_err_clear(&err);
        if (sign_file(params, n, files[i], dir, dfd == -1 ? AT_FDCWD : dfd,
                      prefix, &err) == -1) {
            if (failed++ == 0) {
                first = err;
                first_file = files[i];
            }
        }
    }
    if (dfd != -1)
        close(dfd);
    free(prefix);
    log_info("signed %d of %d files into %s", nfiles - failed, nfiles,
             esc(e, sizeof(e), dir));
    if (failed == 0)
        return CLI_OK;
    /* one line on stderr, whatever the number of failures */
    if (failed > 1) {
        size_t k = strlen(first.msg);

        snprintf(first.msg + k, sizeof(first.msg) - k,
                 " (and %d more of %d files not signed)", failed - 1, nfiles);
    }
    return sign_error(first_file, &first);
}

int
cmd_sign_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", 1, NULL, OPT_KEY},
        {"selector", 1, NULL, OPT_SELECTOR},
        {"domain", 1, NULL, OPT_DOMAIN},
        {"algorithm", 1, NULL, OPT_ALGORITHM},
        {"canon", 1, NULL, OPT_CANON},
        {"headers", 1, NULL, OPT_HEADERS},
        {"out-dir", 1, NULL, OPT_OUT_DIR},
        {"verbose", 0, NULL, 'v'},
        {"help", 0, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *keys[SIGN_MAX_KEYS], *sels[SIGN_MAX_KEYS];
    const char *domain = NULL, *alg = NULL, *canon = "relaxed/relaxed";
    const char *headers = NULL, *out_dir = NULL;
    struct dkim_sign_key *loaded[SIGN_MAX_KEYS] = {NULL, NULL};
    struct dkim_sign_params params[SIGN_MAX_KEYS];
    enum dkim_canon hc, bc;
    struct pb_err err;
    size_t nkeys = 0, nsels = 0, i;
    time_t now = time(NULL);
    int opt, rc = CLI_UNKNOWN, nfiles;

    optind = 1;
    opterr = 0; /* we say what was wrong ourselves */
    while ((opt = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return CLI_OK;
        case 'v':
            if (pb_log_level < PB_LOG_DEBUG)
                pb_log_level++;
            break;
        case OPT_KEY:
            if (nkeys == SIGN_MAX_KEYS)
                return cli_usage("sign", "--key is given more than %d times",
                                 SIGN_MAX_KEYS);
            keys[nkeys++] = optarg;
            break;
        case OPT_SELECTOR:
            if (nsels == SIGN_MAX_KEYS)
                return cli_usage("sign",
                                 "--selector is given more than %d times",
                                 SIGN_MAX_KEYS);
            sels[nsels++] = optarg;
            break;
        case OPT_DOMAIN:
            domain = optarg;
            break;
        case OPT_ALGORITHM:
            alg = optarg;
            break;
        case OPT_CANON:
            canon = optarg;
            break;
        case OPT_HEADERS:
            headers = optarg;
            break;
        case OPT_OUT_DIR:
            out_dir = optarg;
            break;
        default:
            return cli_unknown_option("sign", argv[optind - 1]);
        }
    }
    nfiles = argc - optind;
    if (nkeys == 0)
        return cli_usage("sign", "--key is required");
    if (nsels != nkeys)
        return cli_usage("sign",
                         "give one --selector for each --key (%zu keys, %zu "
                         "selectors)",
                         nkeys, nsels);
    if (domain == NULL)
        return cli_usage("sign", "--domain is required");
    if (nkeys == 2 && strcmp(sels[0], sels[1]) == 0)
        return cli_usage("sign", "the two keys need two selectors: one DNS "
                                 "record holds one key");
    if (alg != NULL && strcmp(alg, "both") != 0 &&
        strcmp(alg, "rsa-sha256") != 0 && strcmp(alg, "ed25519-sha256") != 0)
        return cli_usage("sign",
                         "--algorithm is rsa-sha256, ed25519-sha256 or both, "
                         "not '%s'",
                         alg);
    if (alg != NULL && strcmp(alg, "both") == 0 && nkeys != 2)
        return cli_usage("sign", "--algorithm both needs two --key and two "
                                 "--selector options (RSA and Ed25519)");
    if (alg != NULL && strcmp(alg, "both") != 0 && nkeys != 1)
        return cli_usage("sign",
                         "--algorithm %s signs with one key; give "
                         "--algorithm both for two",
                         alg);
    if (dkim_sign_canon_parse(canon, &hc, &bc) == -1)
        return cli_usage("sign",
                         "--canon is relaxed/relaxed, simple/simple, "
                         "relaxed/simple or simple/relaxed, not '%s'",
                         canon);
    if (out_dir != NULL && nfiles == 0)
        return cli_usage("sign", "--out-dir needs the FILEs to sign");
    if (out_dir == NULL && nfiles > 1)
        return cli_usage("sign",
                         "%d FILEs need --out-dir DIR (one message "
                         "goes to standard output)",
                         nfiles);

    pb_err_clear(&err);
    memset(params, 0, sizeof(params));
    for (i = 0; i < nkeys; i++) {
        params[i].domain = domain;
        params[i].selector = sels[i];
        params[i].header_canon = hc;
        params[i].body_canon = bc;
        params[i].headers = headers;
        params[i].timestamp = now;
        /* syntax first: a typo should not wait for the key */
        if (dkim_sign_params_check(&params[i], &err) == -1)
            return cli_error("sign", &err);
    }
    for (i = 0; i < nkeys; i++) {
        enum dkim_sign_alg a;

        if (dkim_sign_key_load(keys[i], &loaded[i], &err) == -1) {
            rc = cli_error("sign", &err);
            goto out;
        }
        a = dkim_sign_key_alg(loaded[i]);
        if (alg != NULL && strcmp(alg, "both") != 0 &&
            strcmp(alg, dkim_sign_alg_name(a)) != 0) {
            char k[256];

            pb_escape_to(k, sizeof(k), keys[i], strlen(keys[i]));
            fprintf(stderr,
                    "probe sign: key %s is an %s key; --algorithm %s needs "
                    "an %s key\n",
                    k, a == DKIM_SIGN_RSA_SHA256 ? "RSA" : "Ed25519", alg,
                    a == DKIM_SIGN_RSA_SHA256 ? "Ed25519" : "RSA");
            goto out;
        }
        params[i].key = loaded[i];
        {
            char k[256];

            log_info("key %s: %s, %d bits, selector %s",
                     esc(k, sizeof(k), keys[i]), dkim_sign_alg_name(a),
                     dkim_sign_key_bits(loaded[i]), sels[i]);
        }
    }
    if (alg != NULL && strcmp(alg, "both") == 0 &&
        dkim_sign_key_alg(loaded[0]) == dkim_sign_key_alg(loaded[1])) {
        fprintf(stderr,
                "probe sign: --algorithm both needs an RSA and an "
                "Ed25519 key; both keys are %s\n",
                dkim_sign_key_alg(loaded[0]) == DKIM_SIGN_RSA_SHA256
                    ? "RSA"
                    : "Ed25519");
        goto out;
    }
    if (out_dir != NULL)
        rc = sign_files(params, nkeys, out_dir, argv + optind, nfiles);
    else
        rc = sign_to_stdout(params, nkeys,
                            nfiles == 1 && strcmp(argv[optind], "-") != 0
                                ? argv[optind]
                                : NULL);
out:
    for (i = 0; i < nkeys; i++)
        dkim_sign_key_free(loaded[i]);
    return rc;
}
