/**
 * Builds DNS queries and reads answers for the names tests.
 *
 * @module
 */

/** A query for `name` (labels as given, so case is kept) of `type`. */
export function dnsQuery(name: string, type = 1, id = 0x1234, flags = 0x0100): Uint8Array {
  const labels = name.split(".").filter((l) => l.length > 0);
  const body: number[] = [];
  for (const l of labels) body.push(l.length, ...new TextEncoder().encode(l));
  body.push(0, type >> 8, type & 0xff, 0, 1);
  return new Uint8Array([
    id >> 8,
    id & 0xff,
    flags >> 8,
    flags & 0xff,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    ...body,
  ]);
}

/** What a response says: id, code, answer count and the answers' addresses. */
export function readAnswer(
  bytes: Uint8Array,
): { id: number; rcode: number; flags: number; addresses: string[] } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const qd = v.getUint16(4);
  const an = v.getUint16(6);
  let at = 12;
  for (let i = 0; i < qd; i++) {
    while (bytes[at] !== 0) at += bytes[at] + 1;
    at += 5;
  }
  const addresses: string[] = [];
  for (let i = 0; i < an; i++) {
    const type = v.getUint16(at + 2);
    const len = v.getUint16(at + 10);
    const rd = bytes.subarray(at + 12, at + 12 + len);
    if (type === 1) addresses.push([...rd].join("."));
    else {
      const groups: string[] = [];
      for (let g = 0; g < 16; g += 2) groups.push(((rd[g] << 8) | rd[g + 1]).toString(16));
      addresses.push(groups.join(":"));
    }
    at += 12 + len;
  }
  return { id: v.getUint16(0), flags: v.getUint16(2), rcode: v.getUint16(2) & 0xf, addresses };
}
