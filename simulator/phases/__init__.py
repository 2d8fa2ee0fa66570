"""The phases of one step, each a function of the market state in its own module.

How a step flows (MarketModel.step orders them):

1. entry_exit.exits / entry_exit.arrivals: firms with sustained negative cash leave, new firms
   arrive (decided at the end of the previous step, taking effect now)
2. market.events.fire: the scenario's events scheduled for this step
3. release.release: firms whose release cycle ended ship their next model
4. decide.decide: focus, open-sourcing, budgets, then prices, every rule seeing last step
5. network.update_links: links expire, dissolve when unprofitable, form with mutual gain
6. clear.clear: logit demand with the open model, capacity-limited sales
7. account.account: revenue, costs, profit, cash, experience, R&D pipeline, shares
8. record: the model's DataCollector rows (record.outcomes, record.segment_rows)
"""
