// queue-depth: how many jobs wait in a queue, read from a JSON stats endpoint.
//
// The seed runbooks watch their job queues with `curl | jq` and a threshold; here the
// plugin reports the depth (and the oldest job's age, when the endpoint has it) as
// metrics, and the check's TOML thresholds decide warning and critical. It reaches the
// network only through picket's `http` capability: only what the check grants.
import { send } from 'picket:plugin/http@0.3.0';
import { log } from 'picket:plugin/log@0.3.0';

function dig(doc, path) {
  let v = doc;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object' || !(part in v)) {
      throw new Error(`no ${path} in the stats (stopped at "${part}")`);
    }
    v = v[part];
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${path} is ${JSON.stringify(v)}, not a number`);
  return n;
}

const report = (status, summary, metrics = [], diagnostics = undefined) => ({ status, summary, metrics, diagnostics });

export const check = {
  describe() {
    return {
      name: 'queue-depth',
      version: '0.1.0',
      description: 'jobs waiting in a queue, from a JSON stats endpoint',
      params: [
        { name: 'depth', kind: 'string', required: false, description: 'dotted path of the waiting count (default depth)', shape: [] },
        { name: 'oldest', kind: 'string', required: false, description: "dotted path of the oldest job's age in seconds", shape: [] },
        { name: 'url', kind: 'string', required: false, description: 'fetch this instead of the target (it must be granted)', shape: [] },
      ],
      metrics: [
        { name: 'depth', unit: '', description: 'jobs waiting', lowerIsWorse: false, when: undefined },
        { name: 'oldest_age', unit: 's', description: 'age of the oldest waiting job', lowerIsWorse: false, when: 'with an `oldest` param' },
        { name: 'response_time', unit: 's', description: 'time to the full response', lowerIsWorse: false, when: undefined },
      ],
      targets: [
        {
          tag: 'url',
          val: {
            schemes: [
              { name: 'http', defaultPort: 80 },
              { name: 'https', defaultPort: 443 },
            ],
            userRequired: false,
            example: 'http://localhost:8080/stats',
          },
        },
      ],
      forecasts: [],
    };
  },

  check(config) {
    const params = JSON.parse(config.params || '{}');
    const url = params.url ?? config.target;
    let resp;
    try {
      resp = send({
        method: 'GET',
        url,
        headers: [['accept', 'application/json']],
        body: undefined,
        timeoutMs: config.timeoutMs,
        followRedirects: false,
        maxBodyBytes: 1 << 20,
      });
    } catch (e) {
      const err = e.payload ?? { kind: 'io', message: String(e) };
      return report('critical', `${err.kind}: ${err.message}`);
    }
    const metrics = [{ name: 'response_time', value: Number(resp.elapsedUs) / 1e6, unit: 's' }];
    const text = new TextDecoder().decode(resp.body);
    if (resp.status !== 200) return report('critical', `HTTP ${resp.status}`, metrics, text.slice(0, 300));
    try {
      const doc = JSON.parse(text);
      const depth = dig(doc, params.depth ?? 'depth');
      metrics.unshift({ name: 'depth', value: depth, unit: '' });
      let summary = `${depth} jobs waiting`;
      if (params.oldest) {
        const age = dig(doc, params.oldest);
        metrics.push({ name: 'oldest_age', value: age, unit: 's' });
        summary += `, oldest ${Math.round(age)}s`;
      }
      log('debug', summary);
      return report('ok', summary, metrics);
    } catch (e) {
      return report('critical', e.message, metrics, text.slice(0, 300));
    }
  },
};
