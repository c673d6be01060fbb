/* SPDX-License-Identifier: MIT */
/*
 * Benchmark driver for bench/sign: libopendkim signs every message of a
 * list the way the opendkim milter does, one dkim_sign() handle per
 * message given the PEM key (the library parses it again for each).
 * Writes DKIM-Signature + message to OUTDIR/NAME and prints
 * {"messages": N, "seconds": S} for the loop (start-up not counted).
 *
 * Build: cc -O2 -o opendkim-sign opendkim-sign.c \
 *            $(pkg-config --cflags --libs opendkim)
 * Usage: opendkim-sign KEY.pem SELECTOR DOMAIN ALG OUTDIR LIST
 *        (ALG: rsa-sha256 or ed25519-sha256; LIST: one path a line)
 */
#define _DEFAULT_SOURCE /* u_char and u_int, which dkim.h uses */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#include <dkim.h>

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (p = malloc((size_t)n + 1)) == NULL ||
        fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "opendkim-sign: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    p[n] = '\0';
    *len = (size_t)n;
    return p;
}

static double
now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w <= 0) {
            perror("opendkim-sign: write");
            exit(2);
        }
        p += w;
        n -= (size_t)w;
    }
}

int
main(int argc, char **argv)
{
    DKIM_LIB *lib;
    dkim_alg_t alg;
    char *key, *list, *line, *save = NULL, out[4096];
    size_t keylen, listlen, n = 0;
    double t0;

    if (argc != 7) {
        fprintf(stderr, "usage: opendkim-sign KEY SELECTOR DOMAIN ALG "
                        "OUTDIR LIST\n");
        return 2;
    }
    alg = strcmp(argv[4], "ed25519-sha256") == 0 ? DKIM_SIGN_ED25519SHA256
                                                 : DKIM_SIGN_RSASHA256;
    key = slurp(argv[1], &keylen);
    list = slurp(argv[6], &listlen);
    lib = dkim_init(NULL, NULL);
    if (lib == NULL) {
        fprintf(stderr, "opendkim-sign: dkim_init failed\n");
        return 2;
    }
    t0 = now();
    for (line = strtok_r(list, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        DKIM_STAT st;
        DKIM *d;
        unsigned char *hdr;
        size_t msglen, hlen;
        char *msg = slurp(line, &msglen), id[32];
        const char *base = strrchr(line, '/');
        int fd;

        snprintf(id, sizeof(id), "m%zu", n);
        d = dkim_sign(lib, (unsigned char *)id, NULL, (dkim_sigkey_t)key,
                      (unsigned char *)argv[2], (unsigned char *)argv[3],
                      DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, alg, -1, &st);
        if (d == NULL ||
            dkim_chunk(d, (unsigned char *)msg, msglen) != DKIM_STAT_OK ||
            dkim_chunk(d, NULL, 0) != DKIM_STAT_OK ||
            (st = dkim_eom(d, NULL)) != DKIM_STAT_OK ||
            dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &hdr, &hlen) !=
                DKIM_STAT_OK) {
            fprintf(stderr, "opendkim-sign: %s: %s\n", line,
                    d ? dkim_geterror(d) : dkim_getresultstr(st));
            return 1;
        }
        snprintf(out, sizeof(out), "%s/%s", argv[5], base ? base + 1 : line);
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd == -1) {
            perror(out);
            return 2;
        }
        write_all(fd, DKIM_SIGNHEADER ": ", strlen(DKIM_SIGNHEADER) + 2);
        /* folded with CRLF and a tab already; no final CRLF */
        write_all(fd, (char *)hdr, hlen);
        write_all(fd, "\r\n", 2);
        write_all(fd, msg, msglen);
        close(fd);
        dkim_free(d);
        free(msg);
        n++;
    }
    printf("{\"messages\": %zu, \"seconds\": %.6f}\n", n, now() - t0);
    dkim_close(lib);
    free(list);
    free(key);
    return 0;
}
