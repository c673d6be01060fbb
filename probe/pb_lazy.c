/* SPDX-License-Identifier: MIT */
#include "pb_lazy.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void *
pb_lazy_open(const char *soname)
{
    /* RTLD_GLOBAL: GnuTLS is found in what libcurl brought, and libetpan
     * finds clist_free() in probe first (imap.c says why) either way */
    void *h = dlopen(soname, RTLD_NOW | RTLD_GLOBAL);

    if (h == NULL) {
        const char *why = dlerror();

        fprintf(stderr, "probe: cannot load %s, which this command needs: %s\n",
                soname, why != NULL ? why : "unknown error");
        exit(3);
    }
    return h;
}

void *
pb_lazy_sym(void *lib, const char *soname, const char *name)
{
    void *p;

    dlerror();
    p = dlsym(lib, name);
    if (p == NULL) {
        const char *why = dlerror();

        fprintf(stderr,
                "probe: %s has no %s (%s): another version than "
                "probe was built with?\n",
                soname, name, why != NULL ? why : "null symbol");
        exit(3);
    }
    return p;
}
