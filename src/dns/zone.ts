// What the hub answers to one well-formed query: A records for its nodes and for itself, PTR for
// VPN addresses, negative answers with the zone's SOA, REFUSED for everything it is not the
// authority for. A pure function of the query and of what the registry says right now, so a node
// deleted or disabled a moment ago is already gone from the next answer.
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { formatIpv4 } from '../domain/ip.js';
import { nodeDnsName } from '../domain/names.js';
import { classifyName, isPlainName, reverseZone, type ZoneNames } from './names.js';
import { RCODE } from './rcodes.js';

/** What the zone is made of, read from the registry at each query. */
export interface ZoneData {
  /** The VPN address of the enabled node with this ID, or null. */
  addressOf(nodeId: string): string | null;
  /** The ID of the enabled node at this VPN address (uint32), or null. */
  nodeAt(address: number): string | null;
}

export interface ZoneSettings extends ZoneNames {
  /** The hub's VPN address (uint32): the apex's A record. */
  hubAddress: number;
}

/**
 * Records live 1 s, negative answers too (the SOA's minimum): a resolver that caches them still sees
 * a deleted node go, or a registered one come, within a second.
 */
export const RECORD_TTL = 1;

/** The answer to a query that decoded and carries exactly one question. */
export function answerQuery(query: DecodedPacket, zone: ZoneSettings, data: ZoneData): Packet {
  const question = query.questions![0]!;
  const reply = (rcode: number, extra: Partial<Packet> = {}, authoritative = true): Packet => ({
    id: query.id ?? 0,
    type: 'response',
    flags: (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | rcode,
    questions: [question],
    answers: [],
    authorities: [],
    ...extra,
  });
  if (!isPlainName(question.name)) {
    // Not echoed: dns-packet could not write it back as it came (see isPlainName); no node has it.
    return { ...reply(RCODE.REFUSED, {}, false), questions: [] };
  }
  if ((question.class ?? 'IN') !== 'IN') return reply(RCODE.REFUSED, {}, false);

  const name = classifyName(question.name, zone);
  const soa = (owner: string): Answer => soaRecord(owner, zone.domain);
  const negative = (rcode: number, owner: string) => reply(rcode, { authorities: [soa(owner)] });
  const positive = (answers: Answer[]) => reply(RCODE.NOERROR, { answers });
  switch (name.kind) {
    case 'outside':
      return reply(RCODE.REFUSED, {}, false);
    case 'nowhere':
      return negative(RCODE.NXDOMAIN, zone.domain);
    case 'apex':
      return apexAnswer(question, zone, positive, () => negative(RCODE.NOERROR, zone.domain));
    case 'node': {
      const address = data.addressOf(name.nodeId);
      if (address === null) return negative(RCODE.NXDOMAIN, zone.domain);
      return wants(question, 'A') ? positive([record(question.name, 'A', address)]) : negative(RCODE.NOERROR, zone.domain);
    }
    case 'reverse': {
      const owner = ptrTarget(name.address, zone, data);
      const reverse = reverseZone(zone.subnet);
      if (owner === null) return negative(RCODE.NXDOMAIN, reverse);
      return wants(question, 'PTR') ? positive([record(question.name, 'PTR', owner)]) : negative(RCODE.NOERROR, reverse);
    }
  }
}

/** The name at a VPN address: the apex for the hub's, the node's name for an enabled node's, else null. */
function ptrTarget(address: number, zone: ZoneSettings, data: ZoneData): string | null {
  if (address === zone.hubAddress) return zone.domain;
  const nodeId = data.nodeAt(address);
  return nodeId === null ? null : nodeDnsName(nodeId, zone.domain);
}

/** The apex is the hub: its A record, the zone's NS (itself) and SOA. */
function apexAnswer(q: Question, zone: ZoneSettings, positive: (a: Answer[]) => Packet, noData: () => Packet): Packet {
  const answers: Answer[] = [];
  if (wants(q, 'A')) answers.push(record(q.name, 'A', formatIpv4(zone.hubAddress)));
  if (wants(q, 'NS')) answers.push(record(q.name, 'NS', zone.domain));
  if (wants(q, 'SOA')) answers.push(soaRecord(q.name, zone.domain));
  return answers.length > 0 ? positive(answers) : noData();
}

/** Whether a question of its type is answered by a record of `type` (ANY takes every type). */
function wants(q: Question, type: 'A' | 'NS' | 'SOA' | 'PTR'): boolean {
  return q.type === type || (q.type as string) === 'ANY'; // dns-packet decodes type 255 as ANY; its types leave it out
}

function record(name: string, type: 'A' | 'NS' | 'PTR', data: string): Answer {
  return { name, type, class: 'IN', ttl: RECORD_TTL, data };
}

function soaRecord(owner: string, domain: string): Answer {
  return {
    name: owner,
    type: 'SOA',
    class: 'IN',
    ttl: RECORD_TTL,
    // The serial stays 1: there are no secondary servers to tell of changes.
    data: { mname: domain, rname: `hostmaster.${domain}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: RECORD_TTL },
  };
}
