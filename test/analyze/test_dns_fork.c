/* SPDX-License-Identifier: MIT */
/* Resolvers forked for threads share one cache: each question is sent
 * once per run, whichever thread asks first. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

#include "analyze.h"
#include "testdata.h"

#define NTHREADS 8
#define NNAMES   200

struct worker {
    struct dns_resolver *r;
    const struct dns_answer *seen[NNAMES];
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    char name[64];

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < NNAMES; i++) {
            snprintf(name, sizeof(name), "h%d.example.com", i);
            w->seen[i] = dns_query(w->r, name, DNS_TYPE_A);
        }
    }
    return NULL;
}

Test(dns_fork, threads_share_answers_and_ask_each_question_once)
{
    struct dns_options opt = {.fixture =
                                  testdata_path("dns/product-example.json")};
    struct dns_resolver *root, *forks[NTHREADS];
    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    struct pb_err err;
    size_t sent = 0;

    cr_assert_eq(dns_resolver_new(&opt, &root, &err), 0, "%s", err.msg);
    for (int i = 0; i < NTHREADS; i++) {
        cr_assert_eq(dns_resolver_fork(root, &forks[i], &err), 0);
        w[i].r = forks[i];
        cr_assert_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++) {
        sent += dns_resolver_sent(forks[i]);
        for (int k = 0; k < NNAMES; k++) {
            cr_assert_eq(w[i].seen[k], w[0].seen[k], "one answer per question");
            cr_assert_eq(w[i].seen[k]->status, DNS_NXDOMAIN);
        }
    }
    cr_assert_eq(sent, NNAMES, "each question sent once in all");
    /* the parent sees what its forks asked */
    cr_assert_eq(dns_query(root, "h7.example.com", DNS_TYPE_A), w[0].seen[7]);
    cr_assert_eq(dns_resolver_sent(root), 0);
    for (int i = 0; i < NTHREADS; i++)
        dns_resolver_free(forks[i]);
    dns_resolver_free(root);
}
