/* SPDX-License-Identifier: MIT */
/*
 * An LD_PRELOAD library for test/integration/dkim_interop.sh: what a file
 * system or kernel without O_TMPFILE, or without linking by descriptor,
 * answers.  FS_REFUSE=tmpfile: openat(O_TMPFILE) fails with EOPNOTSUPP, as
 * on NFS or FAT; FS_REFUSE=link: linkat(AT_EMPTY_PATH) fails with EPERM
 * (no CAP_DAC_READ_SEARCH before Linux 6.10) and a /proc/self/fd path
 * with ENOENT (no /proc).  probe sign must then write through a temporary
 * name and rename, with the same result.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int
refusing(const char *what)
{
    const char *m = getenv("FS_REFUSE");

    return m != NULL && strcmp(m, what) == 0;
}

int
openat(int dfd, const char *path, int flags, ...)
{
    int (*real)(int, const char *, int, ...) =
        (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
    mode_t mode = 0;
    va_list ap;

    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if ((flags & O_TMPFILE) == O_TMPFILE && refusing("tmpfile")) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return real(dfd, path, flags, mode);
}

int
linkat(int ofd, const char *opath, int nfd, const char *npath, int flags)
{
    int (*real)(int, const char *, int, const char *, int) =
        (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT,
                                                                  "linkat");

    if (refusing("link") && (flags & AT_EMPTY_PATH)) {
        errno = EPERM;
        return -1;
    }
    if (refusing("link") && strncmp(opath, "/proc/", 6) == 0) {
        errno = ENOENT;
        return -1;
    }
    return real(ofd, opath, nfd, npath, flags);
}
