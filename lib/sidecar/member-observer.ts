// Member processes of a local target put their own exits and starts on the timeline: a process
// reports its exit itself, so there is no polling delay.
import type { StackMember } from '../stack/stack.ts';
import type { Timeline } from '../chaos/timeline.ts';

/** Member processes report their own exits and starts: no polling delay. */
export function observeMembers(members: StackMember[], timeline: Timeline): void {
  for (const m of members) {
    m.onExit((info) => {
      timeline.record('member', info.expected ? 'member-stopped' : 'member-exited', m.name, {
        code: info.code,
        signal: info.signal,
        expected: info.expected,
      });
    });
    m.onStart((pid) => timeline.record('member', 'member-started', m.name, { pid }));
  }
}
