module.exports = require('../../jest.preset.cjs').jestProjectConfig(__dirname);
