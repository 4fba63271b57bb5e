//! eks-sim: a local stand-in for the Kubernetes and EKS APIs (being built).

fn main() {
    eprintln!("eks-sim: not built yet");
    std::process::exit(1);
}
