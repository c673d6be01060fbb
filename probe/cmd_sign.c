/* SPDX-License-Identifier: MIT */
/*
 * `probe sign`: add DKIM signatures (RFC 6376; rsa-sha256, and
 * ed25519-sha256 of RFC 8463) to a message on standard input, or to many
 * files at once, with each key loaded once for the whole run.
 */
#define _GNU_SOURCE /* O_TMPFILE and AT_EMPTY_PATH: write_unnamed() */
#include "cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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
    "--out-dir DIR\n"
    "                  [--jobs N] FILE...\n"
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
    "linked in)\n"
    "  --jobs N          with --out-dir: sign with N threads (default 1, at "
    "most\n"
    "                    64); the output does not change\n"
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
    OPT_JOBS,
};

/* An RSA and an Ed25519 key, or two keys of one type during rotation. */
#define SIGN_MAX_KEYS 2
/* --jobs: more threads than cores only add switching */
#define SIGN_MAX_JOBS 64

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

/* The last path component of path, without trailing slashes: the bytes
 * from *start to *end. */
static void
base_span(const char *path, size_t *start, size_t *end)
{
    size_t n = strlen(path), s;

    while (n > 1 && path[n - 1] == '/')
        n--;
    s = n;
    while (s > 0 && path[s - 1] != '/')
        s--;
    *start = s;
    *end = n;
}

/* The last path component of path, without trailing slashes. */
static char *
base_name(const char *path)
{
    size_t start, end;

    base_span(path, &start, &end);
    return pb_xmemdup(path + start, end - start);
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

/* What one thread keeps from one file to the next: the input buffer, and
 * the directory of the last input, open. */
struct sign_in {
    char *p;
    size_t cap;
    char *dir; /* "DIR/", or NULL */
    int dfd;   /* DIR, or -1 when it could not be opened */
};

static void
sign_in_release(struct sign_in *in)
{
    free(in->p);
    free(in->dir);
    if (in->dfd != -1)
        close(in->dfd);
}

/*
 * open(path), relative to its directory when the file before was in the
 * same one: the kernel then walks one name, not the whole path again
 * (about 1.5 us a file for the four components of bench/sign's paths).
 */
static int
open_input(struct sign_in *in, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dlen;

    if (slash == NULL || slash[1] == '\0')
        return open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    dlen = (size_t)(slash - path) + 1; /* with the slash: "/" stays "/" */
    if (in->dir == NULL || strncmp(in->dir, path, dlen) != 0 ||
        in->dir[dlen] != '\0') {
        if (in->dfd != -1)
            close(in->dfd);
        free(in->dir);
        in->dir = pb_xmemdup(path, dlen);
        /* a directory we may search but not read: whole paths, as before */
        in->dfd = open(in->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (in->dfd == -1)
        return open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    return openat(in->dfd, slash + 1, O_RDONLY | O_NOCTTY | O_CLOEXEC);
}

/*
 * Read all of fd, a regular file of size bytes (fstat), into in: at most
 * PB_LIMIT_MSG_BYTES, *len set.  read() is asked for size + 1 bytes, so
 * a file of the size fstat gave ends with that one call: it returned
 * exactly size bytes, short of what was asked.  A file that grew or
 * shrank is read on to the end (read() returns 0), as any other.
 */
static int
read_file(int fd, off_t size, struct sign_in *in, size_t *len,
          struct pb_err *err)
{
    size_t want = size >= 0 && (uintmax_t)size < PB_LIMIT_MSG_BYTES
                      ? (size_t)size + 1
                      : (size_t)PB_LIMIT_MSG_BYTES + 1;
    size_t n = 0;

    if (in->cap < want) {
        free(in->p);
        in->cap = want < 65536 ? 65536 : want;
        in->p = pb_xmalloc(in->cap);
    }
    for (;;) {
        size_t ask;
        ssize_t got;

        if (n == in->cap) {
            if (in->cap > PB_LIMIT_MSG_BYTES)
                return pb_err_set(err, PB_STAGE_IO, PB_E_LIMIT,
                                  "message is over the limit of %u bytes",
                                  PB_LIMIT_MSG_BYTES);
            in->cap = in->cap > PB_LIMIT_MSG_BYTES / 2
                          ? (size_t)PB_LIMIT_MSG_BYTES + 1
                          : 2 * in->cap;
            in->p = pb_xrealloc(in->p, in->cap);
        }
        ask = in->cap - n;
        got = read(fd, in->p + n, ask);
        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1)
            return pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                              "cannot read the file: %s", strerror(errno));
        if (got == 0)
            break;
        n += (size_t)got;
        if ((size_t)got < ask && (off_t)n == size)
            break; /* all fstat said, and nothing after it */
    }
    if (n > PB_LIMIT_MSG_BYTES)
        return pb_err_set(err, PB_STAGE_IO, PB_E_LIMIT,
                          "message is over the limit of %u bytes",
                          PB_LIMIT_MSG_BYTES);
    *len = n;
    return 0;
}

/* What every file of one --out-dir run shares. */
struct sign_run {
    char **files;
    int nfiles;
    const char *dir;    /* for messages */
    int dfd;            /* dir, or AT_FDCWD with prefix "DIR/" */
    const char *prefix; /* put before each name given to the kernel */
    const bool *exists; /* NAME was in dir when the run began; NULL: all */
    long pid;
    atomic_ulong seq;    /* temporary names */
    atomic_int next;     /* --jobs: the next file to take */
    atomic_bool unnamed; /* O_TMPFILE and linkat() work in dir */
};

/*
 * Write a new NAME as a file without a name, made whole, then linked in
 * (Linux's O_TMPFILE): a reader never sees half a message, a crash leaves
 * nothing behind, and it costs less than a temporary name and a rename
 * (about 2 us a file on tmpfs, docs/PERFORMANCE.md).  Linking by the
 * descriptor needs CAP_DAC_READ_SEARCH before Linux 6.10, so then through
 * /proc/self/fd.  0: written; 1: not done, use a temporary name (NAME
 * appeared meanwhile, or the file system or kernel cannot); -1: write
 * error, errno set.
 */
static int
write_unnamed(struct sign_run *run, const char *dst, const char *p, size_t n)
{
#ifdef O_TMPFILE
    char proc[48];
    int fd, e;

    if (!atomic_load_explicit(&run->unnamed, memory_order_relaxed))
        return 1;
    fd = openat(run->dfd, run->prefix[0] != '\0' ? run->prefix : ".",
                O_WRONLY | O_TMPFILE | O_CLOEXEC, 0666);
    if (fd == -1) {
        atomic_store(&run->unnamed, false); /* the named way says why */
        return 1;
    }
    if (write_all(fd, p, n) == -1) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    e = linkat(fd, "", run->dfd, dst, AT_EMPTY_PATH) == 0 ? 0 : errno;
    if (e == EPERM || e == ENOENT || e == EINVAL) {
        /* no linking by descriptor here: through /proc, or not at all */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        e = linkat(AT_FDCWD, proc, run->dfd, dst, AT_SYMLINK_FOLLOW) == 0
                ? 0
                : errno;
        if (e != 0 && e != EEXIST) {
            close(fd);
            atomic_store(&run->unnamed, false); /* the named way says why */
            return 1;
        }
    }
    close(fd);
    if (e == 0)
        return 0;
    if (e == EEXIST)
        return 1; /* NAME appeared meanwhile: rename over it */
    errno = e;
    return -1;
#else
    (void)run, (void)dst, (void)p, (void)n;
    return 1;
#endif
}

/*
 * Sign path into dir/NAME: a NAME not there when the run began is written
 * without a name and linked in (write_unnamed()); one that was there is
 * written to a temporary file in dir and renamed over it.  Either way a
 * reader never sees half a message.  The names given to
 * the kernel are prefix + name, relative to dfd (see sign_files()).
 * -1 with err set.
 */
static int
sign_file(struct sign_run *run, const struct dkim_sign_params *params, size_t n,
          int idx, struct sign_in *in, struct pb_err *err)
{
    const char *path = run->files[idx], *base;
    struct stat st_in, st_out;
    char *out = NULL, *dst, *tmp = NULL;
    char e[256], f[256];
    size_t outlen, inlen = 0, plen = strlen(run->prefix), bstart, bend;
    int fd, tfd = -1, rc = -1, dfd = run->dfd;

    /* dst is prefix + NAME, and base the NAME in it: one allocation, no
     * printf (this runs for every file) */
    base_span(path, &bstart, &bend);
    dst = pb_xmalloc(plen + (bend - bstart) + 1);
    memcpy(dst, run->prefix, plen);
    memcpy(dst + plen, path + bstart, bend - bstart);
    dst[plen + (bend - bstart)] = '\0';
    base = dst + plen;
    fd = open_input(in, path);
    if (fd == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot open: %s",
                   strerror(errno));
        goto out;
    }
    if (fstat(fd, &st_in) == -1 || !S_ISREG(st_in.st_mode)) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "not a regular file");
        goto out;
    }
    /* the input itself, or a link to it, under the name we write: only a
     * name already in dir when the run began can be one (sign_files()) */
    if ((run->exists == NULL || run->exists[idx]) &&
        fstatat(dfd, dst, &st_out, 0) == 0 && st_out.st_dev == st_in.st_dev &&
        st_out.st_ino == st_in.st_ino) {
        pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                   "its signed copy would replace it; choose another "
                   "--out-dir");
        goto out;
    }
    if (read_file(fd, st_in.st_size, in, &inlen, err) == -1 ||
        dkim_sign_message(params, n, inlen > 0 ? in->p : "", inlen, &out,
                          &outlen, err) == -1)
        goto out;
    if (run->exists != NULL && !run->exists[idx]) {
        rc = write_unnamed(run, dst, out, outlen);
        if (rc == -1)
            pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot write %s/%s: %s",
                       esc(e, sizeof(e), run->dir), esc(f, sizeof(f), base),
                       strerror(errno));
        if (rc != 1)
            goto out;
        rc = -1;
    }
    /* a new name of ours; the umask sets the mode, as for any new file */
    do {
        free(tmp);
        tmp = pb_xasprintf("%s.%s.probe-%ld-%lu", run->prefix, base, run->pid,
                           atomic_fetch_add(&run->seq, 1));
        tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    } while (tfd == -1 && errno == EEXIST);
    if (tfd == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot create a file in %s: %s",
                   esc(e, sizeof(e), run->dir), strerror(errno));
        goto out;
    }
    if (write_all(tfd, out, outlen) == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot write %s/%s: %s",
                   esc(e, sizeof(e), run->dir), esc(f, sizeof(f), tmp + plen),
                   strerror(errno));
        goto out; /* closed and removed below */
    }
    rc = close(tfd);
    tfd = -1;
    if (rc == -1 || renameat(dfd, tmp, dfd, dst) == -1) {
        pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot write %s/%s: %s",
                   esc(e, sizeof(e), run->dir), esc(f, sizeof(f), base),
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
    free(tmp);
    free(dst);
    return rc;
}

/* A FILE's name in --out-dir, and which FILE it is. */
struct sign_name {
    char *name;
    int idx;
};

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct sign_name *)a)->name,
                  ((const struct sign_name *)b)->name);
}

/*
 * Refuse FILEs with no name, or two of one name: the second signed copy
 * would replace the first.  On success *sorted holds the names, sorted,
 * for names_in_dir(); free them with free_names().
 */
static int
check_names(const char *dir, char **files, int nfiles,
            struct sign_name **sorted)
{
    struct sign_name *names = pb_xcalloc((size_t)nfiles, sizeof(*names));
    char e1[256], e2[256];
    int i, rc = 0;

    for (i = 0; i < nfiles && rc == 0; i++) {
        names[i].name = base_name(files[i]);
        names[i].idx = i;
        if (strcmp(files[i], "-") == 0 || names[i].name[0] == '\0' ||
            strcmp(names[i].name, ".") == 0 || strcmp(names[i].name, "..") == 0)
            rc = cli_usage("sign", "'%s' names no file to sign into --out-dir",
                           esc(e1, sizeof(e1), files[i]));
    }
    if (rc == 0) {
        qsort(names, (size_t)nfiles, sizeof(*names), cmp_name);
        for (i = 1; i < nfiles && rc == 0; i++) {
            if (strcmp(names[i - 1].name, names[i].name) == 0)
                rc = cli_usage("sign",
                               "two FILEs are named '%s'; both would be "
                               "written to %s",
                               esc(e1, sizeof(e1), names[i].name),
                               esc(e2, sizeof(e2), dir));
        }
    }
    if (rc != 0) {
        for (i = 0; i < nfiles; i++)
            free(names[i].name);
        free(names);
        names = NULL;
    }
    *sorted = names;
    return rc;
}

static void
free_names(struct sign_name *names, int nfiles)
{
    int i;

    for (i = 0; names != NULL && i < nfiles; i++)
        free(names[i].name);
    free(names);
}

/*
 * Which FILEs' names are in the directory dfd now: one pass over it, so
 * that sign_file() need not fstatat() a name that is not there (in a new
 * --out-dir, none is).  NULL when the directory cannot be read: then
 * every name is looked at.
 */
static bool *
names_in_dir(int dfd, const struct sign_name *sorted, int nfiles)
{
    struct dirent *de;
    DIR *d;
    bool *exists;
    int fd = dup(dfd);

    if (fd == -1)
        return NULL;
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return NULL;
    }
    exists = pb_xcalloc((size_t)nfiles, sizeof(*exists));
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        struct sign_name key = {de->d_name, 0};
        const struct sign_name *hit =
            bsearch(&key, sorted, (size_t)nfiles, sizeof(*sorted), cmp_name);

        if (hit != NULL)
            exists[hit->idx] = true;
        errno = 0;
    }
    if (errno != 0) {
        free(exists);
        exists = NULL;
    }
    closedir(d);
    return exists;
}

/* One --jobs thread: its own keys (a key's contexts are not shared),
 * and the first of its files that failed. */
struct sign_worker {
    struct sign_run *run;
    struct dkim_sign_params params[SIGN_MAX_KEYS];
    struct dkim_sign_key *own[SIGN_MAX_KEYS]; /* loaded for it; freed */
    size_t n;
    pthread_t th;
    int failed;
    int first; /* index of its first failed file */
    struct pb_err err;
};

static void *
sign_worker_main(void *arg)
{
    struct sign_worker *w = arg;
    struct sign_run *run = w->run;
    struct sign_in in = {NULL, 0, NULL, -1};
    struct pb_err err;
    int i;

    while ((i = atomic_fetch_add(&run->next, 1)) < run->nfiles) {
        pb_err_clear(&err);
        if (sign_file(run, w->params, w->n, i, &in, &err) == -1) {
            /* files are taken in order: the first failure is the lowest */
            if (w->failed++ == 0) {
                w->first = i;
                w->err = err;
            }
        }
    }
    sign_in_release(&in);
    return NULL;
}

static int
sign_files(const struct dkim_sign_params *params, size_t n, const char *dir,
           char **files, int nfiles, long jobs, const char *const *keys)
{
    struct stat st;
    struct sign_run run;
    struct sign_worker *w;
    struct sign_name *sorted = NULL;
    bool *exists = NULL;
    const struct sign_worker *first = NULL;
    char e[256], *prefix;
    int i, dfd, failed = 0, started = 0, rc = CLI_UNKNOWN;
    size_t k;

    if (stat(dir, &st) == -1)
        return cli_usage("sign", "--out-dir %s: %s", esc(e, sizeof(e), dir),
                         strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cli_usage("sign", "--out-dir %s is not a directory",
                         esc(e, sizeof(e), dir));
    if (check_names(dir, files, nfiles, &sorted) != 0)
        return CLI_UNKNOWN;
    if (jobs > nfiles)
        jobs = nfiles;
    /*
     * Name the files relative to dir, opened once, so the kernel does not
     * walk dir's path again in the calls for each file (3 us a file in
     * bench/sign, docs/PERFORMANCE.md).  A directory we may write but not
     * read (mode -wx) cannot be opened so: its files keep whole paths.
     */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    prefix = dfd == -1 ? pb_xasprintf("%s/", dir) : pb_xstrdup("");
    if (dfd != -1)
        exists = names_in_dir(dfd, sorted, nfiles);
    free_names(sorted, nfiles);

    memset(&run, 0, sizeof(run));
    run.files = files;
    run.nfiles = nfiles;
    run.dir = dir;
    run.dfd = dfd == -1 ? AT_FDCWD : dfd;
    run.prefix = prefix;
    run.exists = exists;
    run.pid = (long)getpid();
    atomic_init(&run.seq, 0);
    atomic_init(&run.next, 0);
    atomic_init(&run.unnamed, true);

    w = pb_xcalloc((size_t)jobs, sizeof(*w));
    for (i = 0; i < jobs; i++) {
        w[i].run = &run;
        w[i].n = n;
        memcpy(w[i].params, params, n * sizeof(params[0]));
    }
    /* each thread past the first loads its own copy of the keys */
    for (i = 1; i < jobs; i++) {
        for (k = 0; k < n; k++) {
            struct pb_err err;
            struct dkim_sign_key *key;

            pb_err_clear(&err);
            if (dkim_sign_key_load(keys[k], &key, &err) == -1) {
                rc = cli_error("sign", &err);
                goto out;
            }
            w[i].own[k] = key;
            w[i].params[k].key = key;
        }
    }
    for (i = 1; i < jobs; i++) {
        int e2 = pthread_create(&w[i].th, NULL, sign_worker_main, &w[i]);

        if (e2 != 0) {
            /* fewer threads: the ones running take the rest */
            log_info("cannot start a --jobs thread: %s", strerror(e2));
            break;
        }
        started++;
    }
    sign_worker_main(&w[0]);
    for (i = 1; i <= started; i++)
        pthread_join(w[i].th, NULL);

    for (i = 0; i < jobs; i++) {
        failed += w[i].failed;
        if (w[i].failed > 0 && (first == NULL || w[i].first < first->first))
            first = &w[i];
    }
    log_info("signed %d of %d files into %s", nfiles - failed, nfiles,
             esc(e, sizeof(e), dir));
    if (failed == 0) {
        rc = CLI_OK;
    } else {
        struct pb_err err = first->err;

        /* one line on stderr, whatever the number of failures */
        if (failed > 1) {
            size_t len = strlen(err.msg);

            snprintf(err.msg + len, sizeof(err.msg) - len,
                     " (and %d more of %d files not signed)", failed - 1,
                     nfiles);
        }
        rc = sign_error(files[first->first], &err);
    }
out:
    for (i = 1; i < jobs; i++) {
        for (k = 0; k < n; k++)
            dkim_sign_key_free(w[i].own[k]);
    }
    free(w);
    free(exists);
    if (dfd != -1)
        close(dfd);
    free(prefix);
    return rc;
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
        {"jobs", 1, NULL, OPT_JOBS},
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
    long jobs = 1;
    int opt, rc = CLI_UNKNOWN, nfiles;
    bool has_jobs = false;

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
        case OPT_JOBS:
            if (cli_parse_int(optarg, 1, SIGN_MAX_JOBS, &jobs) == -1)
                return cli_usage("sign",
                                 "--jobs takes a number from 1 to %d, not "
                                 "'%s'",
                                 SIGN_MAX_JOBS, optarg);
            has_jobs = true;
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
    if (has_jobs && out_dir == NULL)
        return cli_usage("sign", "--jobs goes with --out-dir (one message "
                                 "is signed by one thread)");
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
        rc = sign_files(params, nkeys, out_dir, argv + optind, nfiles, jobs,
                        keys);
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
