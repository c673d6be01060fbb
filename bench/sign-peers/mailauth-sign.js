// SPDX-License-Identifier: MIT
// Benchmark driver for bench/sign: mailauth (npm) signs every message of a
// list with dkimSign(), one message after the other, given the PEM key as
// a string (mailauth makes a key object of it for each message).  Writes
// DKIM-Signature + message to OUTDIR/NAME; prints
// {"messages": N, "seconds": S} for the loop (node start-up not counted).
//
// Usage: NODE_PATH=DIR/node_modules node mailauth-sign.js
//            KEY.pem SELECTOR DOMAIN rsa-sha256|ed25519-sha256 OUTDIR LIST
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { dkimSign } = require('mailauth/lib/dkim/sign');

async function main() {
    const [keyPath, selector, domain, algorithm, outdir, list] =
        process.argv.slice(2);
    if (!list) {
        console.error('usage: mailauth-sign.js KEY SELECTOR DOMAIN ALG ' +
                      'OUTDIR LIST');
        process.exit(2);
    }
    const privateKey = fs.readFileSync(keyPath, 'utf8');
    const paths = fs.readFileSync(list, 'utf8').split('\n')
        .filter(Boolean);
    let n = 0;
    const t0 = process.hrtime.bigint();
    for (const p of paths) {
        const msg = fs.readFileSync(p);
        const res = await dkimSign(msg, {
            canonicalization: 'relaxed/relaxed',
            signTime: new Date(),
            signatureData: [{ signingDomain: domain, selector, privateKey,
                              algorithm }]
        });
        if (!res.signatures || (res.errors && res.errors.length)) {
            console.error('mailauth-sign: ' + p + ': ' +
                          JSON.stringify(res.errors));
            process.exit(1);
        }
        fs.writeFileSync(path.join(outdir, path.basename(p)),
                         Buffer.concat([Buffer.from(res.signatures), msg]));
        n++;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ messages: n, seconds }));
}

main().catch(err => {
    console.error('mailauth-sign: ' + (err && err.stack ? err.stack : err));
    process.exit(1);
});
