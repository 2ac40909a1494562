// panva's oidc-provider on a free loopback port, for jot's tests. Prints "PORT <n>".
// Usage: node server.mjs CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Any login name works at the dev login page; the account's claims derive from it:
// email <login>@example.com and groups from the GROUPS_<login> environment variable.
import http from 'node:http';
import Provider from 'oidc-provider';

const [clientId, clientSecret, redirectUri] = process.argv.slice(2);
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'groups'],
    },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          const groups = (process.env[`GROUPS_${id}`] || 'dev,ops').split(',').filter(Boolean);
          return { sub: id, email: `${id}@example.com`, email_verified: true, name: id, groups };
        },
      };
    },
    features: { devInteractions: { enabled: true } },
  });
  server.on('request', provider.callback());
  console.log(`PORT ${port}`);
});
