// Tests run in UTC whatever the machine's zone.
process.env.TZ = 'UTC';

module.exports = {
  ...require('./.config/jest.config'),
};
