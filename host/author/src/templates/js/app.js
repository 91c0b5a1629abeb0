// {{name}}: a picket check in JavaScript.
//
// GETs the check's target through picket's `http` capability, so it reaches only what the
// check's TOML grants, and reports critical unless the status is `expect_status` (default
// 200) and the body contains `contains` (when given). Edit `check` to test what you need;
// `describe` tells picket your parameters and metrics.
import { send } from 'picket:plugin/http@0.3.0';
import { log } from 'picket:plugin/log@0.3.0';

const report = (status, summary, metrics = [], diagnostics = undefined) => ({ status, summary, metrics, diagnostics });
const HTTP_SCHEMES = [
  { name: 'http', defaultPort: 80 },
  { name: 'https', defaultPort: 443 },
];

export const check = {
  describe() {
    return {
      name: '{{name}}',
      version: '0.1.0',
      description: 'the target answers HTTP with the expected status',
      params: [
        { name: 'expect_status', kind: 'integer', required: false, description: 'the status that means up (default 200)', shape: [] },
        { name: 'contains', kind: 'string', required: false, description: 'text the body must contain', shape: [] },
      ],
      metrics: [{ name: 'response_time', unit: 's', description: 'time to the full response', lowerIsWorse: false, when: undefined }],
      // The targets this check takes: `picket validate` refuses others, and the target
      // grants the `http` capability its origin.
      targets: [{ tag: 'url', val: { schemes: HTTP_SCHEMES, userRequired: false, example: 'http://localhost:8080/health' } }],
      forecasts: [],
    };
  },

  check(config) {
    const params = JSON.parse(config.params || '{}');
    const expect = Number(params.expect_status ?? 200);
    let resp;
    try {
      resp = send({
        method: 'GET',
        url: config.target,
        headers: [],
        body: undefined,
        timeoutMs: config.timeoutMs,
        followRedirects: true,
        maxBodyBytes: 1 << 20,
      });
    } catch (e) {
      const err = e.payload ?? { kind: 'io', message: String(e) };
      return report('critical', `${err.kind}: ${err.message}`);
    }
    const rt = { name: 'response_time', value: Number(resp.elapsedUs) / 1e6, unit: 's' };
    const body = new TextDecoder().decode(resp.body);
    log('debug', `${config.target} answered ${resp.status}`);
    if (resp.status !== expect) {
      return report('critical', `HTTP ${resp.status}, expected ${expect}`, [rt], body.slice(0, 300));
    }
    if (params.contains && !body.includes(params.contains)) {
      return report('critical', `HTTP ${resp.status} but the body lacks "${params.contains}"`, [rt], body.slice(0, 300));
    }
    return report('ok', `HTTP ${resp.status} in ${Math.round(rt.value * 1000)} ms`, [rt]);
  },
};
