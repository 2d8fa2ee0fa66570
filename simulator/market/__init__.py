"""The economics: pure, vectorised numpy functions over firms x segments (no Mesa inside).

demand.py D = f(P, Q, I) · supply.py S = g(C, R, T) · strategy.py R = h(P_1..P_n) ·
equilibrium.py Bertrand-Nash and joint-profit benchmarks · quality.py compute -> quality.
"""
