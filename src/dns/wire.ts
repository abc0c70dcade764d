// From bytes to a query and from an answer to bytes, with dns-packet: what is dropped unanswered,
// what gets FORMERR, NOTIMP or BADVERS before the zone is asked, the EDNS record of the reply, and
// a reply cut to the size the client can take.
import type { Answer, DecodedPacket, OptAnswer, Packet } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { BADVERS_EXTENDED, RCODE } from './rcodes.js';

/**
 * Longer queries are dropped unread: a question is at most 259 bytes and an OPT record a few dozen,
 * and a bound on the input is a bound on what decoding costs.
 */
export const MAX_QUERY_BYTES = 1232;
/** The UDP payload size the hub announces in EDNS (the DNS flag day 2020 value). */
export const EDNS_PAYLOAD = 1232;
/** Without EDNS a UDP reply may be 512 bytes (RFC 1035 §4.2.1). */
const CLASSIC_UDP_LIMIT = 512;

const HEADER_BYTES = 12;
const QR_BIT = 0x80; // of the third byte
const RD_FLAG = dnsPacket.RECURSION_DESIRED;
const OPCODE_BITS = 0x7800;

export type Incoming =
  /** A query for the zone to answer. */
  | { kind: 'query'; query: DecodedPacket; edns: OptAnswer | null }
  /** Answered without the zone (FORMERR, NOTIMP, BADVERS). */
  | { kind: 'reply'; reply: Packet }
  /** Not answered at all: too short to carry an ID, a response, or too long. */
  | { kind: 'drop' };

/** Reads one message from a client. Never throws. */
export function readQuery(bytes: Buffer): Incoming {
  // A response is never answered, so that two servers cannot keep each other busy.
  if (bytes.length < HEADER_BYTES || bytes.length > MAX_QUERY_BYTES || (bytes[2]! & QR_BIT) !== 0) return { kind: 'drop' };
  const id = bytes.readUInt16BE(0);
  // A reply carries the query's opcode and RD bit (RFC 1035 §4.1.1); the question is not echoed
  // when it could not be read.
  const kept = bytes.readUInt16BE(2) & (OPCODE_BITS | RD_FLAG);
  const error = (rcode: number, additionals: Answer[] = []): Incoming => ({
    kind: 'reply',
    reply: { id, type: 'response', flags: kept | rcode, questions: [], additionals },
  });
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(bytes);
  } catch {
    return error(RCODE.FORMERR);
  }
  // dns-packet decodes the opcode but does not declare it.
  if ((query as DecodedPacket & { opcode?: string }).opcode !== 'QUERY') return error(RCODE.NOTIMP);
  if (query.questions?.length !== 1) return error(RCODE.FORMERR);
  const opts = (query.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  if (opts.length > 1) return error(RCODE.FORMERR); // RFC 6891 §6.1.1
  const edns = opts[0] ?? null;
  if (edns && edns.ednsVersion !== 0) {
    return error(RCODE.NOERROR, [ourOpt(BADVERS_EXTENDED)]); // BADVERS: RCODE 0 here, 1 in the OPT record
  }
  return { kind: 'query', query, edns };
}

/** The hub's OPT record: its payload size, an extended RCODE when there is one. */
function ourOpt(extendedRcode = 0): Answer {
  return { name: '.', type: 'OPT', udpPayloadSize: EDNS_PAYLOAD, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/**
 * The reply's bytes. Over UDP it must fit what the client takes (512 bytes, or its EDNS size up to
 * ours): the authority section goes first, then the answers with the TC bit set, which sends the
 * client to TCP.
 */
export function writeReply(reply: Packet, edns: OptAnswer | null, transport: 'udp' | 'tcp'): Buffer {
  const withOpt: Packet = edns ? { ...reply, additionals: [...(reply.additionals ?? []), ourOpt()] } : reply;
  const bytes = dnsPacket.encode(withOpt);
  if (transport === 'tcp') return bytes;
  const limit = edns ? Math.max(CLASSIC_UDP_LIMIT, Math.min(edns.udpPayloadSize, EDNS_PAYLOAD)) : CLASSIC_UDP_LIMIT;
  if (bytes.length <= limit) return bytes;
  const short = dnsPacket.encode({ ...withOpt, authorities: [] });
  if (short.length <= limit) return short;
  return dnsPacket.encode({ ...withOpt, authorities: [], answers: [], flags: (withOpt.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE });
}

/** A reply made before the question was understood (see Incoming): no EDNS, small. */
export function writeError(reply: Packet): Buffer {
  return dnsPacket.encode(reply);
}
