/**
 * `grid join-wireguard-net NAME [INVITE]`: the joiner's promise and the join.
 *
 * @module
 */
import { GridError } from "../kernel/mod.ts";
import type { Command } from "./_command.ts";

/** The join command. */
export const command: Command = {
  name: "join-wireguard-net",
  promise:
    "I promise to use the public keys, endpoints and tunnel addresses I receive from this WireGuard net only to connect to its members, and not to abuse the net or its members. I will generate my own private key on this machine and never send it to anyone. In return I ask the net to admit me and give me a tunnel address.",
  usage: "grid join-wireguard-net NAME [INVITE] [--endpoint HOST:PORT]",
  summary: "join a WireGuard net (with an invite, or on the promise alone for an open net)",
  run() {
    // TODO(#4): the mesh issue implements the join itself.
    throw new GridError("wireguard", "Joining is not implemented yet");
  },
};
