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
import { OwnedInterfaces } from "./_interfaces.ts";
import type { WgDriver, WgInterfaceSpec, WgPeerSpec } from "../wireguard/mod.ts";
import {
  type Member,
  memberReach,
  netDir,
  type NetState,
  type PskExchange,
} from "../membership/mod.ts";

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
  /** Where WireGuard should send to member `m` (default: its announced endpoint). */
  endpointOf?: (state: NetState, m: Member) => string | undefined;
}

/** Makes each net's interface match its member set, remembering what it applied. */
export class NetReconciler {
  readonly #o: NetReconcilerOptions;
  readonly #applied = new Map<string, { key: string; at: number; iface: string }>();
  readonly #removed = new Set<string>();
  readonly #held = new Set<string>();
  /** The interfaces grid made on this machine. */
  readonly owned: OwnedInterfaces;

  /** A reconciler that has applied nothing yet. */
  constructor(options: NetReconcilerOptions) {
    this.#o = options;
    this.owned = new OwnedInterfaces(options.home);
  }

  /**
   * Deletes interface `iface` of net `name` if grid made it (or it is a
   * WireGuard interface of a net from before grid kept that record); any
   * other link (`eth0`, `lo`) is never touched, and a warning says so.
   */
  async removeInterface(name: string, iface: string): Promise<boolean> {
    const { wg, log } = this.#o;
    const ours = await this.owned.has(iface) ||
      !(await wg.readLinkState(iface)).exists || await wg.isWireGuard(iface);
    if (!ours) {
      log("warn", "interface-kept", {
        net: name,
        interface: iface,
        why: "not a WireGuard interface grid made: left alone",
      });
      return false;
    }
    await wg.removeInterface(iface);
    await this.owned.set(iface, false);
    return true;
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
    const status = state.settings.revoked ? "revoked" : state.set.status.get(selfId);
    if (status !== "live" || !state.set.members.has(selfId)) {
      // Revoked, left, or an admit that turned out void (a used-up invite
      // raced at two inviters): take down what this node brought up.
      const gone = status === "revoked" || status === "left" || this.#applied.has(name);
      if (gone && !this.#removed.has(name)) {
        await this.removeInterface(name, iface);
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
    const spec = (await this.#render(state))!;
    const key = JSON.stringify(spec);
    const last = this.#applied.get(name);
    if (!force && last && last.key === key && Date.now() - last.at < REAPPLY_MS) return;
    const result = await wg.applyInterface(spec);
    if (result.created !== undefined) await this.owned.set(iface, true);
    if (!last || last.key !== key) {
      log("info", "interface-applied", {
        net: name,
        interface: iface,
        address: spec.addresses.join(","),
        peers: spec.peers.length,
      });
      for (const warning of result.warnings ?? []) {
        log("warn", "interface-warning", { net: name, interface: iface, why: warning });
      }
    }
    this.#applied.set(name, { key, at: Date.now(), iface });
  }

  /** The desired interface of `state`'s net (undefined when this node is not a live member). */
  async #render(state: NetState): Promise<WgInterfaceSpec | undefined> {
    const pskFiles = state.set.net.psk ? await this.#o.psk.files(state) : new Map<string, string>();
    const endpointOf = this.#o.endpointOf ??
      ((s: NetState, m: Member) => memberReach(s, m).endpoint);
    return renderInterface(state.set, {
      selfId: this.#o.selfId,
      interface: state.settings.interface,
      listenPort: state.settings.listenPort,
      privateKeyFile: `${netDir(this.#o.home, state.settings.name)}/wg.key`,
      pskFiles,
      endpointOf: (m) => endpointOf(state, m),
    });
  }

  /** Member `id`'s peer as the interface should hold it (undefined: not a peer, e.g. no PSK yet). */
  async peerSpec(state: NetState, id: string): Promise<WgPeerSpec | undefined> {
    const m = state.set.members.get(id);
    return (await this.#render(state))?.peers.find((p) => p.publicKey === m?.wg);
  }

  /** Undoes a failed create or join: removes the interface (and its wireguard-go). */
  async undo(name: string, iface: string): Promise<void> {
    try {
      await this.removeInterface(name, iface);
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
