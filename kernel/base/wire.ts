/**
 * Fixed points of the wire format that need no code: the envelope's CBOR
 * tags, the limits every decoder applies, and the texts of the accept and
 * reject promises that lead every reply. The codec (`kernel/codec.ts`) and
 * the light control client (`control_client.ts`) both take them from here.
 *
 * @module
 */

/** CBOR tag number of the grid envelope: the bytes 0x67726964 spell "grid". */
export const GRID_TAG = 1735551332;
/** CBOR tag number for a CID (IPLD). */
export const CID_TAG = 42;
/** Default largest message accepted by a decoder: 16 MiB. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Default deepest nesting of arrays, maps and tags accepted. */
export const MAX_DEPTH = 32;

/** The text of the accept promise: a reply whose slot 0 is its hash carries an answer. */
export const ACCEPT_TEXT =
  "grid/accept/v1: I accept this message and promise to handle it; the rest of this reply is my answer, and I stand by it.";
/** The text of the reject promise: a reply whose slot 0 is its hash declines. */
export const REJECT_TEXT =
  "grid/reject/v1: I reject this message and will not handle it; the rest of this reply says why: a code, then a reason.";
