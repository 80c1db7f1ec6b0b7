"""The modal models reproduce a real string given its eigenvalues; the example's training runs.

How a real displacement comes out of the complex modal state: mode n of a string released at rest
moves as q_n(t) = e^{-σ_n t} q_n(0) (cos ω_dn t + (σ_n / ω_dn) sin ω_dn t) = Re(c_n λ_n^k) at
t = k / fs, with λ_n = exp((−σ_n + i ω_dn) / fs) and the complex initial amplitude
c_n = q_n(0) (1 − i σ_n / ω_dn). So the modal state is x0 = c, the rollout with prepend_ones=True
gives x_k = λ^k c, and the displacement is u(x, t_k) = Σ_n Re(x_k,n) sin(k_n x).
The reference is independent of that formula: the real (q, q̇) system stepped by its matrix
exponential in float64.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LINEAR_CLASSES, make_modal, paper_plucks, relative, started, string_model
from einops import rearrange

import recurrent as rec
from examples.string import models, physics, train
from examples.string.configs import CONFIGS

N_MODES, FS, N_STEPS, N_POINTS = 25, 16000.0, 4000, 101


@pytest.mark.parametrize("cls", LINEAR_CLASSES)
@pytest.mark.parametrize("x64_run, tolerance", [(False, 2e-4), (True, 1e-9)], ids=["float32", "float64"])
def test_modal_models_reproduce_the_string(cls, x64_run, tolerance, request):
    if x64_run:
        request.getfixturevalue("x64")
    dtype = jnp.float64 if x64_run else jnp.float32
    q0 = physics.pluck(
        physics.STEEL_A2, 0.3 * physics.STEEL_A2.length, 0.05 * physics.STEEL_A2.length, N_MODES
    )
    reference = physics.simulate(physics.STEEL_A2, q0, N_STEPS, FS, N_POINTS)[..., 0]  # (T, W) displacement

    k, omega, sigma = physics.string_modes(physics.STEEL_A2, N_MODES)
    damped = np.sqrt(omega**2 - sigma**2)
    module = make_modal(cls, d_hidden=N_MODES, prepend_ones=True, param_dtype=dtype)
    variables = module.init(jax.random.key(0), jnp.ones(N_MODES, dtype), 4)
    lam = physics.discrete_eigenvalues(physics.STEEL_A2, N_MODES, FS)
    _, variables = module.apply(variables, lam, method="set_eigenvalues", mutable=["params"])
    x0 = jnp.asarray(q0 * (1 - 1j * sigma / damped), jax.dtypes.canonicalize_dtype(jnp.complex128))
    states = np.asarray(module.apply(variables, x0, N_STEPS))  # (T, N) complex
    shapes = np.sin(np.outer(np.linspace(0, physics.STEEL_A2.length, N_POINTS), k))  # (W, N)
    u = states.real.astype(np.float64) @ shapes.T
    error = relative(u, reference)
    assert error <= tolerance, f"relative error {error:.2e} > {tolerance:.0e}"


class LinearPhase(nn.Module):
    """A gain model of |x|² (T, D): exp(−i W |x|²), as the real and imaginary parts modulate expects."""

    weights: np.ndarray  # W (D, D)

    def __call__(self, power):
        phase = -power @ jnp.asarray(self.weights).T
        return jnp.concatenate([jnp.cos(phase), jnp.sin(phase)], axis=-1)


def test_a_phase_linear_in_power_relative_to_the_start_follows_the_glide(x64):
    """The form Koopman_var is given: LRUDynamicsVarying with a gain of phase linear in |x|², divided by
    the gain at the start, follows the tension-modulated string, which the linear rollout cannot.

    First-order perturbation theory: mode n's frequency rises by δω_n = Σ_m κ_nm a_m², with
    a_m = a_m(0) e^{−σ_m t} the amplitudes and κ_nm = α k_n² k_m² / 4ω_n (3α k_n⁴ / 8ω_n for m = n, the
    Duffing backbone), so its phase gains Σ_m (κ_nm / 2σ_m) (a_m(0)² − a_m(t)²). The reference is the
    float64 simulator, which shares no code or approximation with this.
    """
    fs, n_steps, n_modes = 4000.0, 4000, 17  # modes 18 and up are above fs / 2, arg λ would be < 0
    k, omega, sigma = physics.string_modes(physics.STEEL_A2, n_modes)
    kappa = physics.STEEL_A2.tension_modulation * np.outer(k**2, k**2) / (4 * omega[:, None])
    kappa[np.diag_indices(n_modes)] *= 1.5
    weights = kappa / (2 * sigma)
    peak = 0.5e-3
    q0 = physics.pluck(
        physics.STEEL_A2, 0.3 * physics.STEEL_A2.length, 0.05 * physics.STEEL_A2.length, n_modes, peak
    )
    reference = physics.simulate_modal(physics.STEEL_A2, q0, n_steps, fs)[0]  # (T, N) modal displacements

    damped = np.sqrt(omega**2 - sigma**2)
    x0 = jnp.asarray(q0 * (1 - 1j * sigma / damped))  # x_k = λ^k x0 is the linear string, Re x = q
    gain = LinearPhase(weights)
    module = make_modal(
        rec.LRUDynamicsVarying, n_modes, prepend_ones=True, param_dtype=jnp.float64, model=gain
    )
    variables = module.init(jax.random.key(0), x0, 2)
    _, variables = module.apply(
        variables,
        physics.discrete_eigenvalues(physics.STEEL_A2, n_modes, fs),
        method="set_eigenvalues",
        mutable=["params"],
    )
    start = np.split(np.asarray(gain.apply({}, jnp.abs(x0) ** 2)), 2)  # the gain at k = 0
    glide = np.asarray(module.apply(variables, x0, n_steps)) / (start[0] + 1j * start[1])
    linear = physics.simulate_modal(physics.STEEL_A2, q0, n_steps, fs, alpha=0.0)[0]
    assert relative(linear, reference) >= 0.3  # the glide matters at this amplitude
    assert relative(glide.real, reference) <= 2e-3


def test_koopman_var_gain_is_relative_to_the_start():
    """Koopman_var's first frame is the decoded encoding whatever its gain, which acts later on; with
    the gain's initial parameters it is Koopman with the same encoder, eigenvalues and decoder."""
    first = jnp.asarray(np.random.default_rng(0).standard_normal((3, 7, 2)), jnp.float32)
    model = string_model("koopman_var", 4, 14)
    params = model.init(jax.random.key(0), first, 2, None)["params"]
    linear = string_model("koopman", 4, 14)
    linear_params = {key: value for key, value in params.items() if key != "gain"}
    same = np.asarray(linear.apply({"params": linear_params}, first, 30, None))
    np.testing.assert_allclose(model.apply({"params": params}, first, 30, None), same, rtol=1e-6, atol=1e-6)

    out = params["gain"]["out"]  # zero at the start: a gain of 1
    keys = jax.random.split(jax.random.key(1))
    params["gain"]["out"] = {
        name: jax.random.normal(key, out[name].shape) for name, key in zip(out, keys, strict=True)
    }
    varying = np.asarray(model.apply({"params": params}, first, 30, None))
    np.testing.assert_allclose(varying[:, 0], same[:, 0], rtol=1e-5, atol=1e-5)
    assert np.min(np.abs(varying[:, 1:] - same[:, 1:]).max(axis=(2, 3))) > 1e-2

    # A gain far from 1, as a few full-rate Adam steps on its zero layer make one: finite output.
    params["gain"]["out"] = jax.tree.map(lambda p: 1e3 * p, params["gain"]["out"])
    assert np.all(np.isfinite(model.apply({"params": params}, first, 4000, None)))


def moved(params, seed):
    """Every parameter moved by 0.1 times a standard normal draw of the seed (no parameter at its start)."""
    leaves, tree = jax.tree.flatten(params)
    keys = list(jax.random.split(jax.random.key(seed), len(leaves)))
    return tree.unflatten([p + 0.1 * jax.random.normal(keys.pop(), p.shape) for p in leaves])


@pytest.mark.parametrize("name", ["koopman", "koopman_var", "gru"])
def test_scored_steps_are_those_of_the_whole_rollout(name):
    """What `train` scores with loss_frames: the models' output at steps `times` is their rollout's."""
    first = jnp.asarray(np.random.default_rng(0).standard_normal((3, 7, 2)), jnp.float32)
    model = string_model(name, 4, 14)
    params = model.init(jax.random.key(0), first, 2, None)["params"]
    params = moved(params, 2)  # so that Koopman_var's gain, which only the scored rows get, is not 1
    times = np.sort(np.random.default_rng(1).choice(50, 9))
    whole = np.asarray(model.apply({"params": params}, first, 50, None))  # (B, T, W, C)
    scored = np.asarray(model.apply({"params": params}, first, 50, jnp.asarray(times)))  # (B, M, W, C)
    np.testing.assert_allclose(scored, whole[:, times], rtol=1e-5, atol=1e-6)


def test_a_linear_model_decodes_its_powers_as_it_would_decode_each_row():
    """KoopmanString.decode_powers, the batch's rows as one product of the powers shared by the batch
    and a matrix per pluck, against float64 NumPy decoding each row x_k = λ^k x0 with the decoder's
    kernel and bias: the whole rollout and a subset of its steps."""
    first = jnp.asarray(np.random.default_rng(0).standard_normal((3, 7, 2)), jnp.float32)
    model = string_model("koopman", 5, 14, encoder_hidden=8)
    params = model.init(jax.random.key(0), first, 2, None)["params"]
    params = moved(params, 3)
    x0 = np.asarray(model.apply({"params": params}, first, method=lambda m, f: m.encode(f)), np.complex128)
    lam = models.eigenvalues_of(params, model).astype(np.complex128)
    x = lam ** np.arange(60)[:, None] * x0[:, None]  # (B, T, D)
    kernel, bias = (np.asarray(params["decoder"][k], np.float64) for k in ("kernel", "bias"))
    reference = (np.concatenate([x.real, x.imag], -1) @ kernel + bias).reshape(3, 60, 7, 2)
    whole = np.asarray(model.apply({"params": params}, first, 60, None))
    assert relative(whole, reference) <= 1e-5, relative(whole, reference)
    times = np.sort(np.random.default_rng(1).choice(60, 11, replace=False))
    scored = np.asarray(model.apply({"params": params}, first, 60, jnp.asarray(times)))
    assert relative(scored, reference[:, times]) <= 1e-5, relative(scored, reference[:, times])


def test_a_frequency_bank_starts_as_dmd_with_raised_frequencies_in_reserve():
    """models.frequency_bank: copy j of each of the n strongest DMD states has its decay and its
    frequency times 1 + j·step, and no encoding, so a Koopman model started from the bank predicts
    what DMD does: the float64 rollout Re(Φ λ^k E y0) of the DMD fit itself."""
    data = paper_plucks(8, samples=200, points=15, modes=4)[..., :1]
    frames = data / data.std()
    lam, encoder, decoder = dmd = models.dmd_parameters(rearrange(frames, "b t w c -> b t (w c)"), 6, 2)
    bank = models.frequency_bank(dmd, 4, 2, 1e-3)
    assert bank[0].shape == (12,) and bank[1].shape == (12, 15) and bank[2].shape == (15, 12)
    copy = np.repeat(np.arange(3), 4)
    np.testing.assert_allclose(np.abs(bank[0]), np.abs(lam[np.tile(np.arange(4), 3)]), rtol=1e-12)
    np.testing.assert_allclose(
        np.angle(bank[0]), np.angle(lam[:4])[np.tile(np.arange(4), 3)] * (1 + 1e-3 * copy)
    )

    powers = lam[:4] ** np.arange(200)[:, None]  # (T, n): the 4 strongest states, as the bank starts
    reference = np.einsum("wd,td,bd->btw", decoder[:, :4], powers, frames[:, 0, :, 0] @ encoder[:4].T).real
    config = dict(
        init="dmd", model_size=6, bank=2, bank_modes=4, bank_step=1e-3, encoder_hidden=8, channels="u"
    )
    model, params = started("koopman", frames, **config)
    assert model.d_hidden == 12
    pred = train.predict(model, params, jnp.asarray(frames[:, 0], jnp.float32), 200)[..., 0]
    assert relative(pred, reference) <= 1e-4, relative(pred, reference)


def test_the_nonlinear_bank_spans_the_strings_modes_at_each_rate():
    """The nonlinear configuration banks every mode the string has at its rate (10 at 4 kHz, 25 at
    16 kHz), never more states than model_size per copy, and a bank_modes given is kept."""
    config = CONFIGS["nonlinear"]()
    for fs, n in ((4000.0, 10), (16000.0, 25)):
        at_fs = dataclasses.replace(config, fs=fs)
        assert models.bank_modes(at_fs) == n
        koopman = models.MODELS["koopman"].build(at_fs, 101)
        assert koopman.d_hidden == n * (config.bank + 1)
    assert models.bank_modes(dataclasses.replace(config, fs=16000.0, model_size=12)) == 12
    assert models.bank_modes(dataclasses.replace(config, bank_modes=3)) == 3


@pytest.mark.slow
def test_koopman_var_pitch_raises_the_frequencies_of_each_pluck():
    """With `pitch` (its gain at 1), Koopman_var rolls each pluck out as Koopman does with the
    eigenvalues λ e^{iδ} set (set_eigenvalues), δ = PITCH_SCALE · arg λ · MLP(|x0|² / s): louder plucks
    get other frequencies, and none at the start."""
    first = jnp.asarray(np.random.default_rng(0).standard_normal((3, 7, 2)), jnp.float32)
    model = string_model("koopman_var", 4, 14, pitch=True)
    params = model.init(jax.random.key(0), first, 2, None)["params"]
    out = params["raise_pitch"]["layers_2"]  # zero at the start: no raise
    params["raise_pitch"]["layers_2"] = jax.tree.map(
        lambda p: 0.3 * jax.random.normal(jax.random.key(1), p.shape), out
    )
    rollout = np.asarray(model.apply({"params": params}, first, 300, None))
    delta = model.apply({"params": params}, first, method=lambda m, f: m.raise_by(m.encode(f)))  # (B, D)
    lam = models.eigenvalues_of(params, model)
    assert np.all(np.abs(delta) > 1e-6) and np.ptp(np.asarray(delta) / np.angle(lam), axis=0).min() > 1e-4

    linear = string_model("koopman", 4, 14)
    dynamics = models.make_dynamics("lru", 4, linear.ranges)
    for b in range(3):
        raised = lam * np.exp(1j * np.asarray(delta[b], np.float64))
        _, new = dynamics.apply(
            {"params": params["dynamics"]}, raised, method="set_eigenvalues", mutable=["params"]
        )
        kept = {key: value for key, value in params.items() if key not in ("gain", "raise_pitch")}
        same = linear.apply({"params": {**kept, "dynamics": new["params"]}}, first[b : b + 1], 300, None)
        assert relative(rollout[b], np.asarray(same[0])) <= 1e-4, (
            b,
            relative(rollout[b], np.asarray(same[0])),
        )


@pytest.mark.parametrize("name", ["koopman", "koopman_var"])
def test_a_rollout_far_past_training_stays_finite_and_bounded(name):
    """48 000 steps (12 s at 4 kHz, 12 times the training horizon) from perturbed parameters: every
    state stays within its bound, |λ^k x0| ≤ |x0| (|λ| ≤ 1 held by clip_eigs) times Koopman_var's gain
    against its start, e^(1 + 1) at most (the log-magnitude is bounded by tanh)."""
    model = models.unbatched(string_model(name, 6, 9))
    first = jnp.asarray(np.random.default_rng(0).standard_normal((9, 1)), jnp.float32)
    params = model.init(jax.random.key(0), first, 2, None)["params"]
    params = jax.tree.map(lambda p: p + 0.5 * jax.random.normal(jax.random.key(3), p.shape), params)
    lam = models.eigenvalues_of(params, model)
    assert np.all(np.abs(lam) <= 1)
    x0 = model.apply({"params": params}, first, method=lambda m, f: m.encode(f))
    x = model.apply(
        {"params": params},
        first,
        48000,
        method=lambda m, f, n: rec.modal_rollout(m.modal.get_eigenvalues(), m.encode(f), n, 0),
    )
    bound = np.abs(np.asarray(x0)) * (np.exp(2) if name == "koopman_var" else 1) * (1 + 1e-4)
    y = np.asarray(model.apply({"params": params}, first, 48000, None))
    assert np.all(np.isfinite(y)) and np.all(np.abs(np.asarray(x)) <= np.abs(np.asarray(x0)) * (1 + 1e-4))
    if name == "koopman_var":
        gained = model.apply(
            {"params": params}, first, 48000, method=lambda m, f, n: _state_after_gain(m, f, n)
        )
        assert np.all(np.abs(np.asarray(gained)) <= bound)


def _state_after_gain(module, first, n_steps):
    """Koopman_var's state before the decoder: the rollout times its gain relative to the start."""
    x0 = module.encode(first)
    x = rec.modulate(
        module.gain, rec.modal_rollout(module.modal.get_eigenvalues(), x0, n_steps, 0), module.d_hidden
    )
    return x * jnp.exp(-module.gain.log_gain(x0.real**2 + x0.imag**2))
