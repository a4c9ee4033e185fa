import '@testing-library/jest-dom';
import { TextDecoder, TextEncoder } from 'util';

Object.assign(global, { TextDecoder, TextEncoder });
// react-dom/server (which @grafana/ui loads) needs MessageChannel; jsdom has
// none, and Node's (worker_threads) keeps Jest from exiting. A timer-based one.
if (!global.MessageChannel) {
  global.MessageChannel = class MessageChannel {
    constructor() {
      const port1 = { onmessage: null, close() {} };
      const port2 = {
        onmessage: null,
        postMessage: (data) => setTimeout(() => port1.onmessage && port1.onmessage({ data }), 0),
        close() {},
      };
      port1.postMessage = (data) => setTimeout(() => port2.onmessage && port2.onmessage({ data }), 0);
      this.port1 = port1;
      this.port2 = port2;
    }
  };
}

// jsdom lacks these; @grafana/ui touches them.
Object.defineProperty(global, 'matchMedia', {
  writable: true,
  value: (query) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener: jest.fn(),
    removeListener: jest.fn(),
    addEventListener: jest.fn(),
    removeEventListener: jest.fn(),
    dispatchEvent: jest.fn(),
  }),
});

if (typeof HTMLCanvasElement !== 'undefined') {
  HTMLCanvasElement.prototype.getContext = () => {};
}

if (!global.ResizeObserver) {
  global.ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}
