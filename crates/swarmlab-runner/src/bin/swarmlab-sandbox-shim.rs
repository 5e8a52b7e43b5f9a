//! The sandbox shim as a binary of its own, for tests and for hosts that install it apart
//! from swarmlab: everything happens in [`swarmlab_runner::sandbox::shim_main`].

fn main() {
    swarmlab_runner::sandbox::shim_main(std::env::args_os().skip(1))
}
