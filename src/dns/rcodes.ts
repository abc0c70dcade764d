// DNS response codes (RFC 1035 §4.1.1, RFC 6891 for BADVERS), as the low four bits of the header's
// flags that dns-packet encodes.
export const RCODE = Object.freeze({
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
});

/** BADVERS (16) does not fit in four bits: its upper eight go into the OPT record's extended RCODE. */
export const BADVERS_EXTENDED = 1;
