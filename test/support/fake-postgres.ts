// A server on loopback that speaks just enough of the PostgreSQL protocol to play someone on the
// path: it accepts TLS with whatever certificate it is given, asks for the password in clear text,
// and records what each client did. The question a test asks it: did a password arrive?
import { readFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { TLSSocket } from "node:tls";

export interface FakeConnection {
  tls: boolean;
  /** The client finished the TLS handshake (it accepted the certificate). */
  handshake: boolean;
  startup?: Record<string, string>;
  /** What the client sent for the password, if anything. */
  password?: string;
}

export interface FakePostgres {
  host: "127.0.0.1";
  port: number;
  connections: FakeConnection[];
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Reads length-prefixed messages from a stream; `typed` messages start with one type byte. */
function reader(socket: Socket | TLSSocket) {
  let buffer = Buffer.alloc(0);
  const waiting: (() => void)[] = [];
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (const wake of waiting.splice(0)) wake();
  });
  const need = async (n: number) => {
    while (buffer.length < n) await new Promise<void>((resolve) => waiting.push(resolve));
  };
  return async (typed: boolean): Promise<{ type?: string; body: Buffer }> => {
    const head = typed ? 5 : 4;
    await need(head);
    const length = buffer.readInt32BE(typed ? 1 : 0);
    await need(length + (typed ? 1 : 0));
    const type = typed ? String.fromCharCode(buffer[0]) : undefined;
    const body = buffer.subarray(head, length + (typed ? 1 : 0));
    buffer = buffer.subarray(length + (typed ? 1 : 0));
    return { type, body };
  };
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export async function startFakePostgres(o: { certPath: string; keyPath: string }): Promise<FakePostgres> {
  const [cert, key] = await Promise.all([readFile(o.certPath), readFile(o.keyPath)]);
  const connections: FakeConnection[] = [];
  const sockets = new Set<Socket>();

  const serve = async (raw: Socket) => {
    const record: FakeConnection = { tls: false, handshake: false };
    connections.push(record);
    let socket: Socket | TLSSocket = raw;
    let read = reader(raw);
    let first = await read(false);
    if (first.body.readInt32BE(0) === GSSENC_REQUEST) {
      raw.write("N");
      first = await read(false);
    }
    if (first.body.readInt32BE(0) === SSL_REQUEST) {
      record.tls = true;
      raw.removeAllListeners("data");
      raw.write("S");
      const secure = new TLSSocket(raw, { isServer: true, cert, key });
      secure.on("error", () => undefined); // a client refusing the certificate
      secure.once("secure", () => {
        record.handshake = true;
      });
      socket = secure;
      read = reader(secure);
      first = await read(false);
    }
    const fields = first.body.subarray(4).toString("utf8").split("\0");
    record.startup = {};
    for (let i = 0; i + 1 < fields.length && fields[i]; i += 2) record.startup[fields[i]] = fields[i + 1];
    socket.write(message("R", int32(3))); // AuthenticationCleartextPassword
    const answer = await read(true);
    if (answer.type === "p") record.password = answer.body.toString("utf8").replace(/\0$/, "");
    const error = Buffer.from("SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed (fake server)\0\0");
    socket.end(message("E", error));
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    serve(socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: "127.0.0.1",
    port: (server.address() as AddressInfo).port,
    connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
