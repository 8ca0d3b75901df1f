#!/usr/bin/env bash
# make run: start bin/exekra on ./data with the defaults (HTTPS with a
# self-signed certificate on :4545). On the first run it makes a development
# license key pair and license in ./data/dev, activates the server and
# bootstraps an admin whose password it prints (and keeps in
# ./data/dev/admin-password). Ctrl-C stops the server gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/exekra
DATA=${EXEKRA_DATA_DIR:-./data}
DEV=$DATA/dev
ADDR=${EXEKRA_ADDR:-:4545}
PORT=${ADDR##*:}
URL=https://localhost:$PORT
EMAIL=admin@example.com

mkdir -p "$DEV"
chmod 700 "$DATA" "$DEV"
if [ ! -f "$DEV/license.key" ]; then
  "$BIN" license keygen --out "$DEV" >/dev/null
fi
if [ ! -f "$DEV/dev.lic" ]; then
  "$BIN" license issue --key "$DEV/license.key" --email "$EMAIL" --org "Exekra Dev" --days 365 --out "$DEV/dev.lic"
fi

"$BIN" serve --data-dir "$DATA" --addr "$ADDR" --license-public-key "$DEV/license.pub" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit $?' INT TERM

for _ in $(seq 1 100); do
  curl -ksf "$URL/api/health" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { wait $pid; exit $?; }
  sleep 0.1
done

state=$(curl -ks "$URL/api/status" | sed -E 's/.*"state":"([A-Z]+)".*/\1/')
if [ "$state" = "UNACTIVATED" ]; then
  curl -ksf -X POST "$URL/api/license/activate" -H 'Content-Type: application/json' \
    -d "{\"license\": \"$(tr -d '\n' < "$DEV/dev.lic")\"}" >/dev/null
  state=ACTIVATED
fi
if [ "$state" = "ACTIVATED" ]; then
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)
  curl -ksf -X POST "$URL/api/auth/bootstrap" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$password\",\"name\":\"Dev Admin\"}" >/dev/null
  umask 077; echo "$password" > "$DEV/admin-password"
fi
cat <<TXT

  Exekra is running at $URL (self-signed certificate: use curl -k)
  The web console is at the same address: open $URL in a browser and accept the certificate.
  Admin login: $EMAIL / $(cat "$DEV/admin-password" 2>/dev/null || echo '(see data/dev/admin-password)')
  Log in:  curl -k -c cookies.txt -X POST $URL/api/auth/login -H 'Content-Type: application/json' \\
             -d '{"email":"$EMAIL","password":"'"\$(cat $DEV/admin-password)"'"}'
  Then:    curl -k -b cookies.txt $URL/api/auth/me
  Or with the client (no -k: it trusts the server's certificate file):
           EXEKRA_PASSWORD="\$(cat $DEV/admin-password)" $BIN login --server $URL --email $EMAIL --ca-cert $DATA/tls.crt
           $BIN workflows list
  Another port: EXEKRA_ADDR=:8443 make run. Start over: stop it, then rm -rf $DATA.
  README.md walks on to a first workflow, runner and execution. Ctrl-C stops the server.

TXT
wait $pid
