// The shop flow of the reference document (Locust WebUser/AdminUser, Artillery "API flow")
// as a k6 script, for recording sample-data/{baseline,candidate}.json.gz against the
// slo-demo target. BASE_URL must point at it, e.g. -e BASE_URL=http://127.0.0.1:PORT.
import http from 'k6/http';
import { check, group, sleep } from 'k6';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const JSON_HEADERS = { headers: { 'Content-Type': 'application/json' } };

export const options = {
  scenarios: {
    shop: { executor: 'constant-vus', vus: 12, duration: '60s', gracefulStop: '5s' },
  },
  thresholds: {
    // The seed slo-config.yaml's load_test profile, verbatim.
    http_req_duration: ['p(95)<500', 'p(99)<1000'],
    http_req_failed: ['rate<0.01'],
    http_reqs: ['rate>100'],
    // Per-route and per-group sub-metrics.
    'http_req_duration{name:product}': ['p(95)<65', 'med<40'],
    'http_req_duration{name:login}': ['p(95)<500'],
    'http_req_duration{group:::browse}': ['p(99)<1000'],
    'http_req_failed{name:cart}': ['rate<0.05'],
    checks: ['rate>0.99'],
    iteration_duration: ['p(95)<2000'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
};

export default function () {
  let token = '';
  group('auth', function () {
    const res = http.post(
      `${BASE}/auth/login`,
      JSON.stringify({ username: `user${(__VU % 5) + 1}`, password: 'password' }),
      Object.assign({ tags: { name: 'login' } }, JSON_HEADERS),
    );
    check(res, {
      'login status 200': (r) => r.status === 200,
      'login has token': (r) => r.status === 200 && typeof r.json('token') === 'string',
    });
    if (res.status === 200) token = res.json('token');
  });

  const auth = { headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } };

  group('browse', function () {
    const list = http.get(`${BASE}/api/products`, Object.assign({ tags: { name: 'products' } }, auth));
    check(list, {
      'products status 200': (r) => r.status === 200,
      'products has data': (r) => r.status === 200 && Array.isArray(r.json('data')),
    });
    const id = Math.floor(Math.random() * 100) + 1;
    const one = http.get(`${BASE}/api/products/${id}`, Object.assign({ tags: { name: 'product' } }, auth));
    check(one, { 'product status 200': (r) => r.status === 200 });
  });

  group('cart', function () {
    const res = http.post(
      `${BASE}/api/cart`,
      JSON.stringify({ product_id: Math.floor(Math.random() * 100) + 1, quantity: 1 }),
      Object.assign({ tags: { name: 'cart' } }, auth),
    );
    check(res, { 'cart status 201': (r) => r.status === 201 });
  });

  // An admin visit every iteration: more often than the Locust file's AdminUser weight
  // (1 in 10), so that a baseline-vs-candidate comparison has enough samples on every
  // route to call an untouched one unchanged.
  {
    group('admin', function () {
      const res = http.get(`${BASE}/admin/dashboard`, Object.assign({ tags: { name: 'admin' } }, auth));
      check(res, { 'dashboard status 200': (r) => r.status === 200 });
    });
  }

  sleep(0.1 + Math.random() * 0.1);
}
