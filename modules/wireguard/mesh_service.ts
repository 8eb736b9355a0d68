/**
 * The WireGuard mesh as a service of the agent: it loads the nets this node
 * belongs to from `$GRID_HOME/state/nets/`, registers the membership module
 * (replication, joins, PSKs) and the local mesh control module (what the
 * commands call) with the kernel, runs anti-entropy, and reconciles: on every
 * change and every few seconds it renders the desired interface of each net
 * from its member set and applies it. Applying is a diff, so working tunnels
 * are never restarted; revoked or departed peers simply drop out of the spec.
 *
 * Commands reach it with `[MESH_CONTROL_PROMISE, MESH_CONTROL_MODULE, op,
 * args]` from the local command line only. Without an agent, the commands
 * open a {@link Mesh} of their own on the on-disk state (offline mode).
 *
 * @module
 */
import {
  CID,
  type GridHome,
  type Identity,
  type Kernel,
  type Logger,
  type Module,
  oneLine,
  type Parm,
  type PeerNetwork,
  reject,
  type Service,
  type ServiceContext,
} from "../../kernel/mod.ts";
import {
  ADMISSION_PROMISE,
  ADMISSION_TEXT,
  AntiEntropy,
  checkEndpoint,
  checkNetName,
  DEFAULT_CIDR,
  ensureSecret,
  findMember,
  isLive,
  isoSeconds,
  kemKeyPair,
  MEMBERSHIP_PROMISES,
  MembershipError,
  netDir,
  Nets,
  type NetState,
  NODE_NAME,
  nodeNameFrom,
  parseCidr,
  parseInvite,
  PskExchange,
  removeNetDir,
  requestAdmission,
  signMemberRequest,
} from "../membership/mod.ts";
import { defaultInterfaceName, renderInterface } from "./mesh_render.ts";
import {
  argNumber,
  argString,
  MESH_CONTROL_PROMISE,
  type MeshArgs,
  meshControlModule,
} from "./mesh_control.ts";
import { netStatus } from "./mesh_status.ts";
import type { WgInterfaceSpec } from "./wg_state.ts";
import type { WgDump } from "./wg_dump.ts";
import { applyInterface, readStatus, removeInterface } from "./wg_apply.ts";
import { generateKeyPair } from "./wg_keys.ts";

/** The WireGuard operations the mesh needs (the real ones, or fakes in tests). */
export interface WgDriver {
  /** Makes (or reuses) `DIR/wg.key` with `wg genkey`; returns its public key. */
  generateKeyPair(dir: string): Promise<{ publicKey: string; privateKeyFile: string }>;
  /** Makes the interface match the spec, changing only what differs. */
  applyInterface(spec: WgInterfaceSpec): Promise<unknown>;
  /** Deletes the interface (gone already is fine). */
  removeInterface(name: string): Promise<void>;
  /** The interface's `wg show dump`, without secrets. */
  readStatus(name: string): Promise<WgDump>;
}

/** The real WireGuard layer. */
export const SYSTEM_WG: WgDriver = {
  generateKeyPair: (dir) => generateKeyPair(dir),
  applyInterface: (spec) => applyInterface(spec),
  removeInterface: (name) => removeInterface(name),
  readStatus: (name) => readStatus(name),
};

/** How long a join without an invite or URL waits for a first grid peer. */
export const PEER_WAIT_MS = 5000;
/** Default WireGuard port. */
export const DEFAULT_LISTEN_PORT = 51820;
/** Time between reconcile passes. */
export const RECONCILE_INTERVAL_MS = 3000;
/** An unchanged spec is re-applied at least this often (repairs drift). */
export const REAPPLY_MS = 15_000;

/** A peer network with no peers (offline commands). */
export const NO_PEERS: PeerNetwork = {
  selfId: "",
  connected: () => [],
  request: () => Promise.resolve(reject("peer", "No agent is running: no peers")),
  dial: () => {},
  onChange: () => () => {},
};

/** Options for {@link Mesh.open}. */
export interface MeshOptions {
  /** The grid home holding `state/nets/`. */
  home: GridHome;
  /** This node's identity. */
  identity: Identity;
  /** Hash (text) of the join command's promise, which joiners make. */
  joinPromise: string;
  /** The peer network (none: offline commands). */
  peers?: PeerNetwork;
  /** This agent's grid URL (`grid serve --advertise`). */
  advertise?: string;
  /** Where events are logged. */
  log?: Logger;
  /** The WireGuard layer (default: the real one). */
  wg?: WgDriver;
  /** Reconcile period (default {@link RECONCILE_INTERVAL_MS}). */
  reconcileMs?: number;
  /** Anti-entropy period. */
  syncMs?: number;
}

function endpointFrom(advertise: string | undefined, port: number): string | undefined {
  if (!advertise) return undefined;
  try {
    const host = new URL(advertise).hostname;
    if (!host || host === "0.0.0.0" || host === "[::]") return undefined;
    return `${host}:${port}`;
  } catch {
    return undefined; // no usable host in the URL: no endpoint
  }
}

function hostname(): string {
  try {
    return nodeNameFrom(Deno.hostname());
  } catch {
    return "node"; // no permission to read the hostname
  }
}

/** The mesh engine of one node. */
export class Mesh {
  /** The nets this node belongs to. */
  readonly nets: Nets;
  readonly #o: MeshOptions;
  readonly #wg: WgDriver;
  readonly #peers: PeerNetwork;
  readonly #log: Logger;
  readonly #sync: AntiEntropy;
  readonly #applied = new Map<string, { key: string; at: number; iface: string }>();
  readonly #removed = new Set<string>();
  readonly #psk: PskExchange;
  #reconciling: Promise<void> | undefined;
  #again = false;

  private constructor(options: MeshOptions) {
    this.#o = options;
    this.#wg = options.wg ?? SYSTEM_WG;
    this.#peers = options.peers ?? NO_PEERS;
    this.#log = options.log ?? (() => {});
    this.nets = new Nets({ home: options.home, identity: options.identity, log: this.#log });
    this.#psk = new PskExchange({
      home: options.home,
      peers: this.#peers,
      selfId: options.identity.id,
      log: this.#log,
      onKey: () => this.reconcileSoon(),
    });
    this.#sync = new AntiEntropy({
      nets: this.nets,
      peers: this.#peers,
      log: this.#log,
      joinPromise: options.joinPromise,
      intervalMs: options.syncMs,
      onPsk: (state, peer, ct) => this.#psk.answer(state, peer, ct),
    });
  }

  /** Opens the mesh on a node's on-disk state. */
  static async open(options: MeshOptions): Promise<Mesh> {
    const mesh = new Mesh(options);
    await mesh.nets.load();
    return mesh;
  }

  /** This node's id. */
  get selfId(): string {
    return this.#o.identity.id;
  }

  /** The membership module and the control module, for the kernel. */
  modules(): Module[] {
    return [this.#sync.module(), this.controlModule()];
  }

  /** Registers modules and promises, then replicates and reconciles until `signal` aborts. */
  start(kernel: Kernel, signal: AbortSignal): void {
    for (const p of [...MEMBERSHIP_PROMISES, MESH_CONTROL_PROMISE]) kernel.acceptPromise(p);
    for (const m of this.modules()) kernel.register(m);
    this.#sync.start(signal);
    const offChange = this.nets.onChange(() => this.reconcileSoon());
    const offPeers = this.#peers.onChange((e) => {
      if (e.type === "up") this.reconcileSoon();
    });
    const timer = setInterval(async () => {
      await this.nets.load().catch((err) =>
        this.#log("warn", "net-reload-failed", { why: oneLine(err) })
      );
      this.reconcileSoon();
    }, this.#o.reconcileMs ?? RECONCILE_INTERVAL_MS);
    signal.addEventListener("abort", () => {
      clearInterval(timer);
      offChange();
      offPeers();
    }, { once: true });
    void this.#announce().then(() => this.reconcileSoon());
  }

  /** Publishes this node's current grid URL and endpoint where its records are out of date. */
  async #announce(): Promise<void> {
    for (const name of this.nets.names()) {
      const state = this.nets.get(name)!;
      const self = state.set.members.get(this.selfId);
      if (!self || self.status !== "live") continue;
      const url = this.#o.advertise ?? self.url;
      const endpoint = state.settings.endpoint ?? endpointFrom(url, state.settings.listenPort) ??
        self.endpoint;
      if (url === self.url && endpoint === self.endpoint) continue;
      try {
        await this.nets.append(name, { kind: "endpoint", endpoint, url });
        this.#log("info", "endpoint-announced", { net: name, endpoint, url });
      } catch (err) {
        this.#log("warn", "endpoint-announce-failed", { net: name, why: oneLine(err) });
      }
    }
  }

  /** Runs a reconcile pass soon (coalesced). */
  reconcileSoon(): void {
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = (async () => {
      do {
        this.#again = false;
        await this.reconcile();
      } while (this.#again);
    })().finally(() => (this.#reconciling = undefined));
  }

  /** One reconcile pass over every net; errors are logged, never thrown. */
  async reconcile(): Promise<void> {
    for (const name of this.nets.names()) {
      const state = this.nets.get(name);
      if (!state) continue;
      try {
        if (state.set.status.get(this.selfId) === "left") {
          if (this.#peers !== NO_PEERS) await this.#finishLeave(state);
          continue;
        }
        await this.reconcileNet(state);
      } catch (err) {
        this.#log("warn", "reconcile-failed", { net: name, why: oneLine(err) });
      }
    }
  }

  /** Makes one net's interface match its member set. */
  async reconcileNet(state: NetState, force = false): Promise<void> {
    const name = state.settings.name;
    const iface = state.settings.interface;
    const dir = netDir(this.#o.home, name);
    const status = state.set.status.get(this.selfId);
    if (status !== "live" || !state.set.members.has(this.selfId)) {
      // Revoked, left, or an admit that turned out void (a used-up invite
      // raced at two inviters): take down what this node brought up.
      const gone = status === "revoked" || status === "left" || this.#applied.has(name);
      if (gone && !this.#removed.has(name)) {
        await this.#wg.removeInterface(iface);
        this.#removed.add(name);
        this.#applied.delete(name);
        this.#log("info", "interface-removed", {
          net: name,
          interface: iface,
          why: status ?? "admission void",
        });
      }
      return;
    }
    this.#removed.delete(name);
    const pskFiles = state.set.net.psk ? await this.#psk.files(state) : new Map<string, string>();
    const spec = renderInterface(state.set, {
      selfId: this.selfId,
      interface: iface,
      listenPort: state.settings.listenPort,
      privateKeyFile: `${dir}/wg.key`,
      pskFiles,
    })!;
    const key = JSON.stringify(spec);
    const last = this.#applied.get(name);
    if (!force && last && last.key === key && Date.now() - last.at < REAPPLY_MS) return;
    await this.#wg.applyInterface(spec);
    if (!last || last.key !== key) {
      this.#log("info", "interface-applied", {
        net: name,
        interface: iface,
        address: spec.address,
        peers: spec.peers.length,
      });
    }
    this.#applied.set(name, { key, at: Date.now(), iface });
  }

  /** The module the commands call through the kernel (local origin only). */
  controlModule(): Module {
    return meshControlModule((op, args, signal) => this.run(op, args, signal));
  }

  /** Runs one control operation. */
  run(op: string, args: MeshArgs, signal?: AbortSignal): Promise<MeshArgs> {
    switch (op) {
      case "create":
        return this.create(args);
      case "invite":
        return this.invite(args);
      case "join":
        return this.join(args, signal);
      case "leave":
        return this.leave(args);
      case "revoke":
        return this.revoke(args);
      case "status":
        return this.status(args);
      case "ping":
        return Promise.resolve({ ok: true });
    }
    return Promise.reject(new MembershipError(`Unknown mesh operation "${op.slice(0, 20)}"`));
  }

  #checkInterface(name: string, iface: string): void {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.=+-]{0,14}$/.test(iface)) {
      throw new MembershipError(
        `Invalid interface name "${iface.slice(0, 20)}": 1 to 15 letters, digits or _.=+-`,
      );
    }
    for (const other of this.nets.names()) {
      if (other !== name && this.nets.get(other)!.settings.interface === iface) {
        throw new MembershipError(`Interface "${iface}" is already used by net "${other}"`);
      }
    }
  }

  /** This node's display name in a net: `--name`, else the hostname. */
  #nodeName(args: MeshArgs): string {
    const given = argString(args, "nodeName");
    if (given !== undefined && !NODE_NAME.test(given)) {
      throw new MembershipError(
        `Invalid node name "${given.slice(0, 40)}": 1 to 63 letters, digits, ".", "_" or "-"`,
      );
    }
    return given ?? hostname();
  }

  async #memberKeys(name: string): Promise<{ wg: string; kem: Uint8Array }> {
    const dir = netDir(this.#o.home, name);
    const { publicKey } = await this.#wg.generateKeyPair(dir);
    const seed = await ensureSecret(
      `${dir}/kem.seed`,
      () => crypto.getRandomValues(new Uint8Array(32)),
    );
    return { wg: publicKey, kem: kemKeyPair(seed).publicKey };
  }

  /** `create`: founds a net with this node as its first member. */
  async create(args: MeshArgs): Promise<MeshArgs> {
    const name = checkNetName(argString(args, "name") ?? "");
    const cidr = parseCidr(argString(args, "cidr") ?? DEFAULT_CIDR);
    const iface = argString(args, "interface") ?? defaultInterfaceName(name);
    const listenPort = argNumber(args, "listenPort") ?? DEFAULT_LISTEN_PORT;
    if (listenPort < 1 || listenPort > 65535) {
      throw new MembershipError(`Invalid port ${listenPort}`);
    }
    const given = argString(args, "endpoint");
    if (given) checkEndpoint(given);
    this.#checkInterface(name, iface);
    if (this.nets.get(name)) {
      throw new MembershipError(`A net called "${name}" already exists on this node`);
    }
    const keys = await this.#memberKeys(name);
    const endpoint = given ?? endpointFrom(this.#o.advertise, listenPort);
    const state = await this.nets.create({
      name,
      cidr: cidr.text,
      policy: args.open === true ? "open" : "invite",
      psk: args.psk === true,
      interface: iface,
      listenPort,
      endpoint: given,
      request: (net) =>
        signMemberRequest(this.#o.identity, {
          net,
          netName: name,
          name: this.#nodeName(args),
          wg: keys.wg,
          endpoint,
          url: this.#o.advertise,
          kem: keys.kem,
          promise: hashFromText(this.#o.joinPromise),
          time: Date.now(),
        }),
    });
    if (this.#peers !== NO_PEERS) await this.reconcileNet(state, true);
    const self = state.set.members.get(this.selfId)!;
    return {
      name,
      net: state.settings.net,
      address: self.address,
      interface: iface,
      cidr: cidr.text,
    };
  }

  /** `invite`: a one-line token for net `name`. */
  async invite(args: MeshArgs): Promise<MeshArgs> {
    const name = argString(args, "name") ?? "";
    const state = this.nets.require(name);
    const self = state.set.members.get(this.selfId);
    const url = argString(args, "url") ?? this.#o.advertise ?? self?.url;
    const invite = await this.nets.invite(name, {
      urls: url ? [url] : [],
      ttlMs: argNumber(args, "ttlMs"),
      uses: argNumber(args, "uses"),
    });
    return { token: invite.token, expires: isoSeconds(invite.exp), uses: invite.uses };
  }

  /** `join`: asks a member to admit this node, then brings the interface up. */
  async join(args: MeshArgs, signal?: AbortSignal): Promise<MeshArgs> {
    const name = checkNetName(argString(args, "name") ?? "");
    const existing = this.nets.get(name);
    if (existing) {
      if (isLive(existing.set, this.selfId)) {
        await this.reconcileNet(existing, true);
        return this.#joined(existing, "already a member");
      }
      throw new MembershipError(
        `This node was in net "${name}" and is no longer a live member; leave it first`,
      );
    }
    const inviteText = argString(args, "invite");
    const via = argString(args, "via");
    let urls: string[];
    let net = "";
    let inviteBytes: Uint8Array | undefined;
    if (inviteText) {
      const invite = await parseInvite(inviteText);
      if (invite.netName !== name) {
        throw new MembershipError(`The invite is for net "${invite.netName}", not "${name}"`);
      }
      if (Date.now() > invite.exp) {
        throw new MembershipError(`Invite expired at ${isoSeconds(invite.exp)}`);
      }
      urls = invite.urls;
      net = invite.net;
      inviteBytes = invite.bytes;
    } else if (via) {
      urls = [via];
    } else {
      urls = [];
    }
    if (this.#peers === NO_PEERS) throw new MembershipError("Joining needs a running agent");
    let peerIds: string[] = [];
    if (urls.length === 0) {
      // An open net, joined through the grid peers this node already knows.
      peerIds = await this.#connectedPeers(PEER_WAIT_MS, signal);
      if (peerIds.length === 0) {
        throw new MembershipError(
          `Joining net "${name}" needs an invite, or for an open net a member's URL (--via ws://HOST:PORT or grid peers add URL)`,
        );
      }
    }
    const iface = argString(args, "interface") ?? defaultInterfaceName(name);
    this.#checkInterface(name, iface);
    const listenPort = argNumber(args, "listenPort") ?? DEFAULT_LISTEN_PORT;
    const given = argString(args, "endpoint");
    if (given) checkEndpoint(given);
    const endpoint = given ?? endpointFrom(this.#o.advertise, listenPort);
    try {
      const keys = await this.#memberKeys(name);
      const request = await signMemberRequest(this.#o.identity, {
        net,
        netName: name,
        name: this.#nodeName(args),
        wg: keys.wg,
        endpoint,
        url: this.#o.advertise,
        kem: keys.kem,
        promise: hashFromText(this.#o.joinPromise),
        time: Date.now(),
        invite: inviteBytes,
      });
      const admission = await requestAdmission({
        peers: this.#peers,
        urls,
        peerIds,
        request,
        signal,
      });
      if (net !== "" && admission.net !== net) {
        throw new MembershipError("The member answered for another net than the invite names");
      }
      if (!admission.promise.equals(ADMISSION_PROMISE)) {
        throw new MembershipError(
          "The member admitted this node without the net's admission promise",
        );
      }
      const state = await this.nets.adopt({
        name,
        net: admission.net,
        interface: iface,
        listenPort,
        endpoint: given,
      }, admission.records);
      if (!isLive(state.set, this.selfId)) {
        await this.nets.forget(name);
        throw new MembershipError(`Net "${name}" did not admit this node`);
      }
      this.#log("info", "net-joined", { net: name, by: admission.peer });
      this.#sync.dialMembers(state);
      await this.reconcileNet(state, true);
      return this.#joined(state, admission.peer);
    } catch (err) {
      if (!this.nets.get(name)) await removeNetDir(this.#o.home, name);
      throw err;
    }
  }

  /** The connected peers' ids, waiting up to `ms` for a first one. */
  async #connectedPeers(ms: number, signal?: AbortSignal): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.#peers.connected().length === 0 && Date.now() < deadline && !signal?.aborted) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return this.#peers.connected().map((p) => p.id);
  }

  #joined(state: NetState, by: string): MeshArgs {
    const self = state.set.members.get(this.selfId)!;
    return {
      name: state.settings.name,
      net: state.settings.net,
      address: self.address,
      interface: state.settings.interface,
      admittedBy: by,
      promise: ADMISSION_TEXT,
    };
  }

  /** `leave`: records the leave, tells the members, removes the interface and the net here. */
  async leave(args: MeshArgs): Promise<MeshArgs> {
    const name = argString(args, "name") ?? "";
    const state = this.nets.require(name);
    if (isLive(state.set, this.selfId)) await this.nets.append(name, { kind: "left" });
    await this.#wg.removeInterface(state.settings.interface);
    this.#applied.delete(name);
    this.#removed.add(name);
    const told = await this.#finishLeave(state);
    return { name, left: true, told };
  }

  /**
   * Tells the members of a net this node left, then forgets the net here.
   * While nobody has heard (no agent, no peer up), the net and its leave
   * record stay on disk and every reconcile pass tries again. True once done.
   */
  async #finishLeave(state: NetState): Promise<boolean> {
    const mine = [...state.records.values()].filter((r) =>
      r.kind === "left" && r.author === this.selfId
    );
    const others = [...state.set.members.values()].filter((m) =>
      m.status === "live" && m.id !== this.selfId
    );
    const acked = others.length === 0 || this.#peers === NO_PEERS ? 0 : await withTimeout(
      this.#sync.push(state, mine),
      3000,
    ) ?? 0;
    if (others.length > 0 && acked === 0) return false;
    await this.nets.forget(state.settings.name);
    this.#log("info", "net-left", { net: state.settings.name });
    return true;
  }

  /** `revoke`: every member drops node `node` (an id, name or tunnel address). */
  async revoke(args: MeshArgs): Promise<MeshArgs> {
    const name = argString(args, "name") ?? "";
    const state = this.nets.require(name);
    const member = findMember(state.set, argString(args, "node") ?? "");
    if (member.id === this.selfId) {
      throw new MembershipError(
        `Cannot revoke this node itself; use grid leave-wireguard-net ${name}`,
      );
    }
    if (member.status !== "live") {
      throw new MembershipError(
        `Node "${member.name}" (${member.id}) has already ${
          member.status === "left" ? "left" : "been revoked"
        }`,
      );
    }
    const record = await this.nets.append(name, { kind: "revoked", member: member.id });
    await withTimeout(this.#sync.push(state, [record]), 3000);
    if (this.#peers !== NO_PEERS) await this.reconcileNet(state, true);
    return { name, revoked: member.id, memberName: member.name, address: member.address };
  }

  /** `status`: this node, its grid peers, and per net its interface and peers. */
  async status(args: MeshArgs): Promise<MeshArgs> {
    const only = argString(args, "name");
    if (only !== undefined) this.nets.require(only);
    const nets: Parm[] = [];
    for (const name of this.nets.names()) {
      if (only !== undefined && name !== only) continue;
      nets.push(await this.#netStatus(this.nets.get(name)!));
    }
    const peers = this.#peers.connected().map((p) => ({
      id: p.id,
      url: p.url ?? p.advertise ?? null,
      direction: p.direction,
    }));
    return { node: this.selfId, agent: this.#peers !== NO_PEERS, gridPeers: peers, nets };
  }

  async #netStatus(state: NetState): Promise<MeshArgs> {
    let dump: WgDump | undefined;
    try {
      dump = await this.#wg.readStatus(state.settings.interface);
    } catch {
      dump = undefined; // the interface is down (or not ours): status shows it as down
    }
    return netStatus(state, this.selfId, dump);
  }
}

function hashFromText(text: string): CID {
  return CID.parse(text);
}

/** `work`'s result, or undefined when it takes longer than `ms`. */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Options for {@link meshService}. */
export interface MeshServiceOptions {
  /** Hash (text) of the join command's promise (a function: read when the agent starts). */
  joinPromise: string | (() => string);
  /** The WireGuard layer (default: the real one). */
  wg?: WgDriver;
}

/** The mesh as a service of the agent. */
export function meshService(options: MeshServiceOptions): Service & { mesh?: Mesh } {
  const service: Service & { mesh?: Mesh } = {
    name: "mesh",
    async start(ctx: ServiceContext): Promise<void> {
      const mesh = await Mesh.open({
        home: ctx.home,
        identity: ctx.identity,
        joinPromise: typeof options.joinPromise === "string"
          ? options.joinPromise
          : options.joinPromise(),
        peers: ctx.peers,
        advertise: ctx.advertise,
        log: ctx.log,
        wg: options.wg,
      });
      mesh.start(ctx.kernel, ctx.signal);
      service.mesh = mesh;
    },
  };
  return service;
}
