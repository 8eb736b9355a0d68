/**
 * The pairwise PSK exchange over the peer link (see psk.ts for the
 * cryptography): which pairs of a `--psk` net have their key, starting the
 * exchange for the pairs this node encapsulates (the lower node id), and
 * answering the ones it does not. Keys land 0600 in the net's `psk/` folder;
 * a former member's key is removed, so a re-admitted node gets a fresh one.
 *
 * @module
 */
import { type GridHome, type Logger, type PeerNetwork, readAnswer } from "../../kernel/mod.ts";
import { MembershipError } from "./errors.ts";
import { ensureSecret, netDir } from "./net_store.ts";
import type { NetState } from "./nets.ts";
import { pskMessage } from "./protocol.ts";
import {
  decapsulatePsk,
  encapsulatePsk,
  hasPsk,
  isEncapsulator,
  kemKeyPair,
  pskPath,
  sameTag,
  writePsk,
} from "./psk.ts";

/** Options for {@link PskExchange}. */
export interface PskExchangeOptions {
  /** The grid home holding the nets. */
  home: GridHome;
  /** The peer link the ciphertexts travel over. */
  peers: PeerNetwork;
  /** This node's id. */
  selfId: string;
  /** Where events are logged. */
  log?: Logger;
  /** Called when a new pair key is kept (re-render the interface). */
  onKey?: () => void;
}

/** Establishes and keeps the pair keys of this node's PSK nets. */
export class PskExchange {
  readonly #o: PskExchangeOptions;
  readonly #log: Logger;
  readonly #inFlight = new Set<string>();

  /** An exchange for node `options.selfId`. */
  constructor(options: PskExchangeOptions) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
  }

  /**
   * The key file per live peer that has one. Starts the exchange with
   * connected peers this node encapsulates for and lacks a key with, and
   * removes the keys of former members.
   */
  async files(state: NetState): Promise<Map<string, string>> {
    const dir = netDir(this.#o.home, state.settings.name);
    const connected = new Set(this.#o.peers.connected().map((p) => p.id));
    const files = new Map<string, string>();
    for (const m of state.set.members.values()) {
      if (m.id === this.#o.selfId) continue;
      const path = pskPath(dir, m.id);
      if (m.status !== "live") {
        await Deno.remove(path).catch((err) => {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        });
        continue;
      }
      if (await hasPsk(path)) files.set(m.id, path);
      else if (isEncapsulator(this.#o.selfId, m.id) && connected.has(m.id)) {
        void this.offer(state, m.id);
      }
    }
    return files;
  }

  async #kemSecret(state: NetState): Promise<Uint8Array> {
    const seed = await ensureSecret(
      `${netDir(this.#o.home, state.settings.name)}/kem.seed`,
      () => crypto.getRandomValues(new Uint8Array(32)),
    );
    return (await kemKeyPair(seed)).secretKey;
  }

  /** Encapsulates to `peer`, sends the ciphertext, and keeps the key once the tags agree. */
  async offer(state: NetState, peer: string): Promise<void> {
    const flight = `${state.settings.net}/${peer}`;
    if (this.#inFlight.has(flight)) return;
    this.#inFlight.add(flight);
    try {
      const member = state.set.members.get(peer);
      if (!member?.kem) {
        this.#log("warn", "psk-no-key", { net: state.settings.name, peer });
        return;
      }
      const binding = { net: state.settings.net, self: this.#o.selfId, peer };
      const derived = await encapsulatePsk(member.kem, binding);
      const reply = readAnswer(
        await this.#o.peers.request(peer, pskMessage(state.settings.net, derived.cipherText)),
      );
      const tag = reply.ok ? reply.payload[0] : undefined;
      if (!(tag instanceof Uint8Array) || !sameTag(tag, derived.confirm)) {
        const why = reply.ok ? "confirmation tag mismatch" : reply.reason;
        this.#log("warn", "psk-exchange-failed", { net: state.settings.name, peer, why });
        return;
      }
      await writePsk(pskPath(netDir(this.#o.home, state.settings.name), peer), derived.key);
      this.#log("info", "psk-established", { net: state.settings.name, peer });
      this.#o.onKey?.();
    } finally {
      this.#inFlight.delete(flight);
    }
  }

  /** The other side: derives and keeps the key from `peer`'s ciphertext; returns the tag. */
  async answer(state: NetState, peer: string, cipherText: Uint8Array): Promise<Uint8Array> {
    if (!state.set.net.psk) throw new MembershipError(`Net "${state.settings.name}" uses no PSKs`);
    if (isEncapsulator(this.#o.selfId, peer)) {
      throw new MembershipError("The lower node id encapsulates the pair's PSK, not the higher");
    }
    const binding = { net: state.settings.net, self: this.#o.selfId, peer };
    const derived = await decapsulatePsk(cipherText, await this.#kemSecret(state), binding);
    await writePsk(pskPath(netDir(this.#o.home, state.settings.name), peer), derived.key);
    this.#log("info", "psk-established", { net: state.settings.name, peer });
    this.#o.onKey?.();
    return derived.confirm;
  }
}
