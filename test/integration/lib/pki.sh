# SPDX-License-Identifier: MIT
# Sourced by the integration tests that run a scripted server: a throwaway
# CA and a server certificate, and the port a test server prints.  Not a
# test itself (ctest runs only ../*.sh).
#
#   pki_make DIR CA_NAME HOST
#       writes DIR/ca.pem, DIR/server.pem and DIR/server.key (a certificate
#       for HOST signed by a new CA named CA_NAME); openssl's words go to
#       DIR/openssl.log; returns non-zero when openssl fails
#   pki_wait_port FILE PID
#       prints the port the server wrote to FILE as "PORT N", or returns
#       non-zero when the server PID died or did not say within 5 s

pki_make() {
    local d=$1 ca=$2 host=$3
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
        -keyout "$d/ca.key" -out "$d/ca.pem" -subj "/CN=$ca" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >"$d/openssl.log" 2>&1 &&
        openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" \
            -out "$d/server.csr" -subj "/CN=$host" >>"$d/openssl.log" 2>&1 &&
        printf '%s\n' "subjectAltName=DNS:$host" "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" >"$d/server.ext" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 2 -extfile "$d/server.ext" \
            -out "$d/server.pem" >>"$d/openssl.log" 2>&1
}

pki_wait_port() {
    local file=$1 pid=$2 port
    for _ in $(seq 100); do
        port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$file")
        if [[ -n $port ]]; then
            echo "$port"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}
