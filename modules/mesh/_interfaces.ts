/**
 * The WireGuard interfaces grid made on this machine, kept in
 * `$GRID_HOME/state/interfaces.json` (written atomically): a net may only
 * use a link that does not exist yet or that grid made, and grid only ever
 * deletes a link it made (or, for nets from before this file, a link that is
 * a WireGuard interface): never a network card such as `eth0` or `lo`.
 *
 * @module
 */
import { type GridHome, writeTextFileAtomic } from "../../kernel/mod.ts";
import { MembershipError } from "../membership/mod.ts";
import type { WgDriver } from "../wireguard/mod.ts";

/** The interfaces grid made, by name. */
export class OwnedInterfaces {
  readonly #path: string;
  #names?: Set<string>;
  #writing: Promise<void> = Promise.resolve();

  /** The record in `home`. */
  constructor(home: GridHome) {
    this.#path = `${home.state}/interfaces.json`;
  }

  async #load(): Promise<Set<string>> {
    if (this.#names) return this.#names;
    try {
      const data = JSON.parse(await Deno.readTextFile(this.#path));
      const list = Array.isArray(data?.interfaces) ? data.interfaces : [];
      this.#names = new Set(list.filter((n: unknown): n is string => typeof n === "string"));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound) && !(err instanceof SyntaxError)) throw err;
      this.#names = new Set();
    }
    return this.#names;
  }

  /** Every link grid made. */
  async list(): Promise<string[]> {
    return [...(await this.#load())].sort();
  }

  /** Whether grid made link `name`. */
  async has(name: string): Promise<boolean> {
    return (await this.#load()).has(name);
  }

  /** Records that grid made link `name` (or, `owned` false, that it is gone). */
  async set(name: string, owned: boolean): Promise<void> {
    const names = await this.#load();
    if (names.has(name) === owned) return;
    if (owned) names.add(name);
    else names.delete(name);
    const text = JSON.stringify({ interfaces: [...names].sort() }, null, 2) + "\n";
    this.#writing = this.#writing.then(() =>
      writeTextFileAtomic(this.#path, text, { mode: 0o600 })
    );
    await this.#writing;
  }
}

/**
 * Throws unless net `net` may use link `iface`: it does not exist, or grid
 * made it. An existing network card (`eth0`, `lo`) or a WireGuard interface
 * someone else made is refused with one line, before anything is written.
 */
export async function checkLinkFree(
  wg: WgDriver,
  owned: OwnedInterfaces,
  net: string,
  iface: string,
): Promise<void> {
  if (!(await wg.readLinkState(iface)).exists) return;
  if (!(await wg.isWireGuard(iface))) {
    throw new MembershipError(
      `Interface "${iface}" exists and is not a WireGuard interface: net "${net}" needs its own (pick another --interface)`,
    );
  }
  if (!(await owned.has(iface))) {
    throw new MembershipError(
      `Interface "${iface}" is a WireGuard interface grid did not make: pick another --interface, or remove it first (ip link del ${iface})`,
    );
  }
}
