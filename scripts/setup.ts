// `npm run setup`: the pinned tools k6-ha drives, found or built into .tools/bin.
import { main } from '../lib/cli/main.ts';

process.exitCode = await main([process.argv[0] ?? 'node', 'k6-ha', 'setup', ...process.argv.slice(2)]);
