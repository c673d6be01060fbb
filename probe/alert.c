/* SPDX-License-Identifier: MIT */
#include "alert.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

void
alert_url_host(const char *url, char *dst, size_t size)
{
    const char *p = strstr(url, "://");
    size_t n;

    if (p == NULL) {
        snprintf(dst, size, "?");
        return;
    }
    p += 3;
    /* user:password@ is part of the secret */
    if (strchr(p, '@') != NULL && strchr(p, '@') < p + strcspn(p, "/?#"))
        p = strchr(p, '@') + 1;
    n = strcspn(p, "/?#");
    snprintf(dst, size, "%.*s", (int)(n < 200 ? n : 200), p);
}

static size_t
drop_body(char *p, size_t size, size_t n, void *arg)
{
    size_t *seen = arg;

    (void)p;
    *seen += size * n;
    return size * n;
}

int
alert_post(const char *url, const char *payload, size_t len, const char *key,
           unsigned timeout_ms, struct pb_err *err)
{
    char host[256], idem[160], cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    CURL *c;
    CURLcode rc;
    long status = 0;
    size_t seen = 0;

    alert_url_host(url, host, sizeof(host));
    if (strncasecmp(url, "https://", 8) != 0 &&
        strncasecmp(url, "http://", 7) != 0)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "webhook: the URL must be http:// or https://");
    c = curl_easy_init();
    if (c == NULL)
        return pb_err_set(err, PB_STAGE_IO, PB_E_INTERNAL,
                          "webhook %s: libcurl cannot start", host);
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, idem);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "probe/" PROBE_VERSION);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        /* libcurl's words may quote the URL: they stay out of the message */
        return pb_err_set(err, PB_STAGE_IO,
                          rc == CURLE_OPERATION_TIMEDOUT ? PB_E_TIMEOUT
                                                         : PB_E_NETWORK,
                          "webhook %s: %s", host, curl_easy_strerror(rc));
    if (status >= 200 && status < 300)
        return 0;
    return pb_err_set(err, PB_STAGE_IO,
                      status >= 500 || status == 429 ? PB_E_TEMPFAIL
                                                     : PB_E_PERMFAIL,
                      "webhook %s: HTTP status %ld", host, status);
}
