// Temporary: drive one list endpoint hard for N seconds.
const [url, path, seconds = "8", conc = "16"] = process.argv.slice(2);
const login = await fetch(`${url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "admin-password-for-tests" }) });
const { token } = (await login.json()) as { token: string };
const end = Date.now() + Number(seconds) * 1000;
let n = 0;
await Promise.all(Array.from({ length: Number(conc) }, async () => {
  while (Date.now() < end) {
    const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(String(r.status));
    n++;
  }
}));
console.log(path, (n / Number(seconds)).toFixed(0), "req/s");
