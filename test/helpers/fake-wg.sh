#!/bin/sh
# A fake `wg` for the agent's tests (test/unit/agent.test.ts): one interface whose state lives in
# files under $FAKE_WG_DIR, and a log of every call.
#   iface        the interface's name          public-key, listen-port   what `wg show` prints
#   peers        one line a peer: KEY ALLOWED ENDPOINT HANDSHAKE RX TX KEEPALIVE PSK ("-" when none)
#   calls        every invocation, one line, '' for an empty argument; a preshared-key file is
#                logged as psk=<its content>(<its mode>), and its path appended to pskfiles
#   resolve      optional, "NAME ADDRESS" lines: an endpoint set as NAME:port is kept (and shown) as
#                ADDRESS:port, as wg resolves a name when it is set
set -u
D=${FAKE_WG_DIR:?}
log=wg
prev=
for a in "$@"; do
  if [ "$prev" = preshared-key ]; then
    echo "$a" >> "$D/pskfiles"
    a="psk=$(cat "$a" 2>/dev/null)($(stat -c %a "$a" 2>/dev/null))"
  fi
  if [ -z "$a" ]; then log="$log ''"; else log="$log $a"; fi
  prev=$a
done
printf '%s\n' "$log" >> "$D/calls"

iface=$(cat "$D/iface")
if [ "${2:-}" != "$iface" ]; then
  echo "Unable to access interface: No such device" >&2
  exit 1
fi
case ${1:-} in
  show)
    case ${3:-} in
      public-key) cat "$D/public-key" ;;
      listen-port) cat "$D/listen-port" ;;
      peers) awk '{ print $1 }' "$D/peers" ;;
      latest-handshakes) awk '{ print $1 "\t" ($4 == "-" ? 0 : $4) }' "$D/peers" ;;
      transfer) awk '{ print $1 "\t" $5 "\t" $6 }' "$D/peers" ;;
      endpoints) awk '{ print $1 "\t" ($3 == "-" ? "(none)" : $3) }' "$D/peers" ;;
      allowed-ips) awk '{ print $1 "\t" ($2 == "-" ? "(none)" : $2) }' "$D/peers" ;;
      persistent-keepalive) awk '{ print $1 "\t" (($7 == "-" || $7 == "0") ? "off" : $7) }' "$D/peers" ;;
      *) echo "FORBIDDEN wg show ${3:-}" >> "$D/calls"; exit 1 ;;
    esac ;;
  set)
    shift 2
    [ "${1:-}" = peer ] || { echo "fake wg: only 'set IFACE peer KEY ...'" >&2; exit 1; }
    key=$2; shift 2
    old=$(awk -v k="$key" '$1 == k' "$D/peers")
    if [ -n "$old" ]; then
      set -- $old "$@"; shift
      allowed=$1 ep=$2 hs=$3 rx=$4 tx=$5 ka=$6 psk=$7; shift 7
    else
      allowed=- ep=- hs=0 rx=0 tx=0 ka=- psk=-
    fi
    remove=0
    while [ $# -gt 0 ]; do
      case $1 in
        remove) remove=1; shift ;;
        preshared-key) psk=$(cat "$2") || exit 1; shift 2 ;;
        persistent-keepalive) ka=$2; shift 2 ;;
        allowed-ips) allowed=${2:--}; shift 2 ;;
        endpoint)
          ep=$2
          if [ -f "$D/resolve" ]; then
            addr=$(awk -v h="${2%:*}" '$1 == h { print $2 }' "$D/resolve")
            [ -z "$addr" ] || ep="$addr:${2##*:}"
          fi
          shift 2 ;;
        *) echo "fake wg: unknown option $1" >&2; exit 1 ;;
      esac
    done
    awk -v k="$key" '$1 != k' "$D/peers" > "$D/peers.tmp"
    [ "$remove" -eq 1 ] || echo "$key $allowed $ep $hs $rx $tx $ka $psk" >> "$D/peers.tmp"
    mv "$D/peers.tmp" "$D/peers" ;;
  *) echo "FORBIDDEN wg $*" >> "$D/calls"; exit 1 ;;
esac
