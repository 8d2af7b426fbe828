'use strict';
// eureka-js-client (from npm) against a Eureka server, reporting what happens as JSON lines.
//
// Usage: node scenario.js EUREKA_URL    (test_js_client.py runs it)
//
// JS-ORDERS registers and fetches the registry (then deltas only); JS-INVENTORY registers after
// it, so ORDERS can only learn of it from a delta. Commands on stdin:
//   stop-inventory  deregister JS-INVENTORY, report when ORDERS' delta has dropped it
//   stop            deregister JS-ORDERS and exit
// Each client is stopped right after one of its heartbeats, so no heartbeat is in flight to be
// answered 404 after the cancel (the client would register again).

const readline = require('readline');
const { Eureka } = require('eureka-js-client');

const eurekaUrl = process.argv[2];
const INTERVAL_MS = 300;
const DEADLINE_MS = 15000;

function emit(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ event }, fields)) + '\n');
}

function fail(message) {
  emit('error', { message: String(message) });
  process.exit(1);
}

// The library's own logger prints to stdout, which carries our JSON lines.
const logger = {
  debug() {},
  info() {},
  warn(...args) {
    // getInstancesByAppId warns on every miss while we poll; that is expected here.
    if (!String(args[0]).startsWith('Unable to retriev')) console.error('warn', ...args);
  },
  error(...args) { console.error('error', ...args); },
};

function client(app, port, options) {
  return new Eureka(Object.assign({
    logger,
    cwd: __dirname,
    // The library's hook on every request: report what it asks for.
    requestMiddleware(request, done) {
      emit('request', { app, method: request.method || 'GET', uri: request.uri });
      done(request);
    },
    shouldUseDelta: true,
    instance: {
      app,
      instanceId: `127.0.0.1:${app.toLowerCase()}:${port}`,
      hostName: '127.0.0.1',
      ipAddr: '127.0.0.1',
      port: { $: port, '@enabled': true },
      vipAddress: app.toLowerCase(),
      statusPageUrl: `http://127.0.0.1:${port}/info`,
      dataCenterInfo: {
        '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo',
        name: 'MyOwn',
      },
    },
    eureka: {
      serviceUrls: { default: [`${eurekaUrl}apps/`] },
      heartbeatInterval: INTERVAL_MS,
      registryFetchInterval: INTERVAL_MS,
      maxRetries: 0,
    },
  }, options));
}

function until(condition, what) {
  const deadline = Date.now() + DEADLINE_MS;
  return new Promise((resolve) => {
    const check = () => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return fail(`timed out waiting for ${what}`);
      return setTimeout(check, 50);
    };
    check();
  });
}

function stopAfterHeartbeat(eureka, name) {
  return new Promise((resolve) => {
    eureka.once('heartbeat', () => {
      eureka.stop((error) => {
        if (error) fail(`${name} did not deregister: ${error}`);
        emit('deregistered', { client: name });
        resolve();
      });
    });
  });
}

function started(eureka) {
  return new Promise((resolve) => {
    eureka.start((error) => (error ? fail(error) : resolve()));
  });
}

async function main() {
  const orders = client('JS-ORDERS', 9001);
  const inventory = client('JS-INVENTORY', 9002, {});
  inventory.config.eureka.fetchRegistry = false;
  for (const [name, eureka] of [['orders', orders], ['inventory', inventory]]) {
    eureka.on('heartbeat', () => emit('heartbeat', { client: name }));
  }

  await started(orders);
  emit('started', { client: 'orders', apps: Object.keys(orders.cache.app) });
  await started(inventory);
  emit('started', { client: 'inventory' });

  await until(() => orders.getInstancesByAppId('JS-INVENTORY').length > 0, 'JS-INVENTORY');
  const [found] = orders.getInstancesByVipAddress('js-inventory');
  emit('found', { instance: found });

  const commands = readline.createInterface({ input: process.stdin });
  for await (const line of commands) {
    if (line === 'stop-inventory') {
      await stopAfterHeartbeat(inventory, 'inventory');
      await until(() => orders.getInstancesByVipAddress('js-inventory').length === 0, 'the delete');
      emit('gone', { client: 'inventory' });
    } else if (line === 'stop') {
      await stopAfterHeartbeat(orders, 'orders');
      process.exit(0);
    }
  }
}

main().catch(fail);
