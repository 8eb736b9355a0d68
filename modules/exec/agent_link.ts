/**
 * When the command line runs a module by hash in its own process while an
 * agent runs for the same home, the agent is where the peers are: this
 * module (scope "any") passes a get that missed the local store to the agent
 * over the control socket. The kernel verifies the answer against the hash
 * and keeps it, as for any other cache.
 *
 * @module
 */
import {
  asHash,
  callAgent,
  CID,
  GET_PROMISE,
  hashText,
  type Module,
  type Parms,
  reject,
} from "../../kernel/mod.ts";

/** The agent link's promise text. */
export const AGENT_LINK_TEXT =
  "grid/module/agent-link/v1: I pass this process's lookups by hash to the agent running for the same grid home, and hand back its answer for the kernel to verify.";
/** Hash of the agent link module. */
export const AGENT_LINK_MODULE: CID = hashText(AGENT_LINK_TEXT);

/** A module that asks the agent at `socketPath` for content by hash. */
export function agentLinkModule(socketPath: string): Module {
  return {
    id: AGENT_LINK_MODULE,
    name: "agent-link",
    promise: AGENT_LINK_TEXT,
    scope: "any",
    async accept(parms: Parms): Promise<Parms> {
      if (!GET_PROMISE.cid.equals(parms[0]) || !asHash(parms[2])) {
        return reject("not-accepted", "The agent link passes on gets by hash only");
      }
      const reply = await callAgent(socketPath, parms);
      return reply ??
        reject(
          "not-found",
          "Not in this node's store, and no agent runs for this home to ask peers",
        );
    },
  };
}
