// `npm start`: the broker is not built yet; this says so instead of failing obscurely.
console.log(
  'Brook: the broker is not there yet. The protocol layer (packages/protocol) is in place;\n' +
    'the single-node broker comes next (see docs/ARCHITECTURE.md). Run `npm test` to check the build.',
);
