/**
 * Reconciling one net: render the desired interface from the member set and
 * apply it (a diff, so working tunnels are never restarted), or take the
 * interface down once this node is no longer a live member. Remembers what it
 * applied so an unchanged spec is only re-applied every {@link REAPPLY_MS}.
 *
 * @module
 */
import type { GridHome, Logger } from "../../kernel/mod.ts";
import { renderInterface } from "./render.ts";
import type { WgDriver } from "../wireguard/mod.ts";
import { memberReach, netDir, type NetState, type PskExchange } from "../membership/mod.ts";

/** An unchanged spec is re-applied at least this often (repairs drift). */
export const REAPPLY_MS = 15_000;

/** Options for {@link NetReconciler}. */
export interface NetReconcilerOptions {
  /** The grid home holding `state/nets/`. */
  home: GridHome;
  /** This node's id. */
  selfId: string;
  /** The WireGuard layer. */
  wg: WgDriver;
  /** The PSK files per peer, for nets with `--psk`. */
  psk: PskExchange;
  /** Where events are logged. */
  log: Logger;
}

/** Makes each net's interface match its member set, remembering what it applied. */
export class NetReconciler {
  readonly #o: NetReconcilerOptions;
  readonly #applied = new Map<string, { key: string; at: number; iface: string }>();
  readonly #removed = new Set<string>();
  readonly #held = new Set<string>();

  /** A reconciler that has applied nothing yet. */
  constructor(options: NetReconcilerOptions) {
    this.#o = options;
  }

  /** Records that net `name`'s interface was taken down outside a pass (a leave). */
  removed(name: string): void {
    this.#applied.delete(name);
    this.#removed.add(name);
  }

  /**
   * Runs `work` (a create or join) with background passes kept off net
   * `name`: only the operation's own forced pass touches its interface, so
   * an undo after a failure cannot race a pass that brings it back.
   */
  async holding<T>(name: string, work: () => Promise<T>): Promise<T> {
    this.#held.add(name);
    try {
      return await work();
    } finally {
      this.#held.delete(name);
    }
  }

  /** Makes one net's interface match its member set (`force`: apply even if unchanged). */
  async reconcileNet(state: NetState, force = false): Promise<void> {
    const { selfId, wg, log } = this.#o;
    const name = state.settings.name;
    if (!force && this.#held.has(name)) return;
    const iface = state.settings.interface;
    const dir = netDir(this.#o.home, name);
    const status = state.settings.revoked ? "revoked" : state.set.status.get(selfId);
    if (status !== "live" || !state.set.members.has(selfId)) {
      // Revoked, left, or an admit that turned out void (a used-up invite
      // raced at two inviters): take down what this node brought up.
      const gone = status === "revoked" || status === "left" || this.#applied.has(name);
      if (gone && !this.#removed.has(name)) {
        await wg.removeInterface(iface);
        this.removed(name);
        log("info", "interface-removed", {
          net: name,
          interface: iface,
          why: status ?? "admission void",
        });
      }
      return;
    }
    this.#removed.delete(name);
    const pskFiles = state.set.net.psk ? await this.#o.psk.files(state) : new Map<string, string>();
    const spec = renderInterface(state.set, {
      selfId,
      interface: iface,
      listenPort: state.settings.listenPort,
      privateKeyFile: `${dir}/wg.key`,
      pskFiles,
      endpointOf: (m) => memberReach(state, m).endpoint,
    })!;
    const key = JSON.stringify(spec);
    const last = this.#applied.get(name);
    if (!force && last && last.key === key && Date.now() - last.at < REAPPLY_MS) return;
    await wg.applyInterface(spec);
    if (!last || last.key !== key) {
      log("info", "interface-applied", {
        net: name,
        interface: iface,
        address: spec.address,
        peers: spec.peers.length,
      });
    }
    this.#applied.set(name, { key, at: Date.now(), iface });
  }

  /** Undoes a failed create or join: removes the interface (and its wireguard-go). */
  async undo(name: string, iface: string): Promise<void> {
    try {
      await this.#o.wg.removeInterface(iface);
    } catch (err) {
      this.#o.log("warn", "interface-remove-failed", {
        net: name,
        interface: iface,
        why: String(err),
      });
    }
    this.#applied.delete(name);
    this.#removed.delete(name);
  }
}
