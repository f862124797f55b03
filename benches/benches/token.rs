//! Rule X1 measured: issuing a token (32 bytes from the CSPRNG, URL-safe base64, SHA-256
//! digest) and verifying a presented one (shape check, digest), against the same work done
//! with bare `rand`, `base64` and `sha2` in the same run. The ratio says what the
//! library's types cost on top of the primitives they wrap.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use invite_core::InviteToken;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use std::hint::black_box;

/// Issue: a new token and the digest that is stored.
fn issue(c: &mut Criterion) {
    let mut group = c.benchmark_group("token/issue");
    group.bench_function("library", |b| {
        b.iter(|| {
            let token = InviteToken::generate();
            black_box(token.digest());
            black_box(token);
        });
    });
    group.bench_function("bare", |b| {
        b.iter(|| {
            let mut bytes = [0_u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let text = URL_SAFE_NO_PAD.encode(bytes);
            let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            black_box(digest);
            black_box(text);
        });
    });
    group.finish();
}

/// Verify: a presented token checked for shape and digested for the lookup.
fn verify(c: &mut Criterion) {
    let presented = InviteToken::generate().expose_secret().to_owned();
    let mut group = c.benchmark_group("token/verify");
    group.bench_function("library", |b| {
        b.iter_batched(
            || presented.clone(),
            |text| black_box(InviteToken::parse(&text).map(|token| token.digest())),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("bare", |b| {
        b.iter_batched(
            || presented.clone(),
            |text| {
                let shaped = text.len() == 43
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                let digest: Option<[u8; 32]> = shaped.then(|| Sha256::digest(text.as_bytes()).into());
                black_box(digest)
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, issue, verify);
criterion_main!(benches);
