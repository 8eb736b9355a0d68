/**
 * The answer to one DNS message, from the current name table (pure): A and
 * AAAA records for a member's name, NXDOMAIN for any other name under the
 * suffix, REFUSED for names outside it (this is no recursive resolver),
 * NOTIMP for what is not a query, and nothing at all for what is malformed
 * past its header or is itself a response.
 *
 * @module
 */
import {
  DNS_CLASS_IN,
  DNS_TYPE,
  type DnsAnswer,
  encodeResponse,
  parseQuery,
  RCODE,
} from "./dns_message.ts";
import type { NameTable } from "./name_table.ts";

/** Seconds a resolver may keep an answer: short, so a revoked name goes soon. */
export const ANSWER_TTL = 5;

/** The response to `bytes`, or undefined when it gets none. */
export function answerQuery(
  bytes: Uint8Array,
  table: NameTable,
  suffix: string,
): Uint8Array | undefined {
  const query = parseQuery(bytes);
  if (!query) return undefined;
  if (query.kind === "error") return encodeResponse(query, { rcode: query.rcode });
  const { name, type, class: klass } = query.question;
  const ours = name === suffix || name.endsWith(`.${suffix}`);
  if (!ours || (klass !== DNS_CLASS_IN && klass !== DNS_TYPE.ANY)) {
    return encodeResponse(query, { rcode: RCODE.REFUSED });
  }
  const entry = table.get(name);
  if (!entry) return encodeResponse(query, { rcode: RCODE.NXDOMAIN, ttl: ANSWER_TTL });
  const answers: DnsAnswer[] = [];
  if (type === DNS_TYPE.A || type === DNS_TYPE.ANY) {
    for (const address of entry.v4) answers.push({ type: DNS_TYPE.A, address });
  }
  if (type === DNS_TYPE.AAAA || type === DNS_TYPE.ANY) {
    for (const address of entry.v6) answers.push({ type: DNS_TYPE.AAAA, address });
  }
  return encodeResponse(query, { rcode: RCODE.NOERROR, answers, ttl: ANSWER_TTL });
}
