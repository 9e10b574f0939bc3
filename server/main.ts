/** `npm start`: the service on its embedded defaults (PGlite, the demo city, the viewer). */
import { loadConfig } from './config.ts';
import { startService } from './Service.ts';

const log = (s: string) => process.stderr.write(s + '\n');
let config;
try {
  config = loadConfig();
} catch (e) {
  log((e as Error).message);
  process.exit(2);
}
const svc = await startService(config);
log(`city traffic twin listening on ${svc.url} (database: ${svc.database.kind} at ${svc.database.location}, speed ${config.SPEED}×)`);
if (svc.generatedAdminToken) {
  log('');
  log(`First start: the admin token is ${svc.generatedAdminToken}`);
  log('It is shown only now; keep it (or set ADMIN_TOKEN to choose your own).');
  log('');
}
log(`viewer: ${svc.url}/   API: ${svc.url}/api/openapi.json   health: ${svc.url}/health`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  await svc.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
