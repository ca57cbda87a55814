"""Seed frames for the parser fuzzers: one or more real-shaped frames per channel per venue,
quoted from docs/exchanges.md (documentation or live examples). HTX frames are
gzip-compressed as the venue sends them."""

from __future__ import annotations

import gzip

SEEDS: dict[str, list[str]] = {
    "binance": [
        '{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1634653599186,"o":{"s":"IOTXUSDT","S":"SELL",'
        '"o":"LIMIT","f":"IOC","q":"3661","p":"0.06606","ap":"0.06669","X":"FILLED","l":"962","z":"3661",'
        '"T":1634653599180}}}',
        '{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"BTCUSDT","p":"31011.10","q":"10","f":23961322,'
        '"l":23961322,"T":1626992741421,"m":false}',
        '{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091",'
        '"P":"11784.25641265","r":"0.00038167","T":1562306400000}',
    ],
    "bybit": [
        '{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,'
        '"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}',
        '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,'
        '"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950","BT":false}]}',
        '{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":"66666.60",'
        '"indexPrice":"66660.19","openInterest":"492373.72","openInterestValue":"32824881841.75",'
        '"fundingIntervalHour":"8","nextFundingTime":"1760342400000","fundingRate":"-0.005"},"cs":9532239429,'
        '"ts":1760325052630}',
    ],
    "okx": [
        '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0",'
        '"bkPx":"60000","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],'
        '"instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}',
        '{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",'
        '"tradeId":"7849","px":"30218.8","sz":"1","side":"buy","ts":"1652459199958"}]}',
        '{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"0.0001875",'
        '"fundingTime":"1700726400000","instId":"BTC-USD-SWAP","instType":"SWAP","method":"current_period",'
        '"nextFundingTime":"1700755200000","ts":"1700724675402"}]}',
        '{"arg":{"channel":"open-interest","instId":"BTC-USDT-SWAP"},"data":[{"instType":"SWAP",'
        '"instId":"BTC-USDT-SWAP","oi":"5000","oiCcy":"50","ts":"1597026383085"}]}',
    ],
    "bitmex": [
        '{"table":"liquidation","action":"insert","data":[{"orderID":"8b4a95db","symbol":"XBTUSD","side":"Buy",'
        '"price":60000.5,"leavesQty":5000}]}',
        '{"table":"trade","action":"insert","data":[{"timestamp":"2021-07-22T22:36:10.014Z","symbol":"XBTUSD",'
        '"side":"Buy","size":52,"price":31000.5,"homeNotional":0.0016,"foreignNotional":52}]}',
    ],
    "deribit": [
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":'
        '[{"timestamp":1765531356452,"price":92288.5,"amount":750.0,"direction":"sell","index_price":92276.75,'
        '"instrument_name":"BTC-PERPETUAL","trade_seq":271252855,"mark_price":92287.11,"tick_direction":2,'
        '"contracts":75.0,"trade_id":"403691825","liquidation":"T"}]}}',
        '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":'
        '{"timestamp":1765541474086,"state":"open","instrument_name":"BTC-PERPETUAL","last_price":92283.5,'
        '"mark_price":92281.78,"index_price":92263.55,"open_interest":1132329370.0,"current_funding":0.0,'
        '"funding_8h":0.00001742}}}',
    ],
    "gate": [
        '{"time":1700000000,"time_ms":1700000000123,"channel":"futures.public_liquidates","event":"update",'
        '"result":[{"contract":"BTC_USDT","price":"96000.1","size":"-12","time_ms":1700000000100,'
        '"time":1700000000}]}',
    ],
    "bitget": [
        '{"action":"update","arg":{"instType":"usdt-futures","topic":"liquidation"},"data":[{"symbol":"APEUSDT",'
        '"side":"buy","price":"0.1649","amount":"13.70319","ts":"1777358886549"}],"ts":1777358897167}',
        '{"action":"update","arg":{"instType":"usdt-futures","topic":"publicTrade","symbol":"BTCUSDT"},'
        '"data":[{"i":"1432912492051054592","p":"76631.3","v":"0.01","S":"buy","T":"1777358881008"}],'
        '"ts":1777358881009}',
    ],
    "kraken": [
        '{"feed":"trade","product_id":"PF_XBTUSD","uid":"05af78ac","side":"sell","type":"liquidation",'
        '"seq":653355,"time":1612266317519,"qty":0.5,"price":34969.5}',
    ],
    "dydx": [
        '{"type":"channel_data","connection_id":"x","message_id":7,"id":"BTC-USD","channel":"v4_trades",'
        '"version":"2.4.0","contents":{"trades":[{"id":"064e8933","side":"SELL","size":"0.0004",'
        '"price":"75974","type":"LIQUIDATED","createdAt":"2026-09-17T13:39:47.542Z",'
        '"createdAtHeight":"105810227"}]}}',
    ],
    "hyperliquid": [
        '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"69997.0","sz":"0.38111",'
        '"time":1730160006192,"hash":"0x40d1","tid":1016375172059570}]}',
        '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"funding":"0.00004863",'
        '"openInterest":"18617.0","prevDayPx":"60296","oraclePx":"61995","markPx":"61996.3"}}}',
    ],
}

HTX_JSON = [
    '{"op":"notify","topic":"public.ETH-USDT.liquidation_orders","ts":1789670297217,"data":[{"symbol":"ETH",'
    '"contract_code":"ETH-USDT","direction":"buy","offset":"close","volume":500,"price":2446.26,'
    '"created_at":1789670297212,"amount":5,"trade_turnover":12231.3,"contract_type":"swap","pair":"ETH-USDT",'
    '"business_type":"swap","trade_partition":"USDT"}]}',
]


def seeds(venue: str) -> list[str | bytes]:
    if venue == "htx":
        return [gzip.compress(s.encode()) for s in HTX_JSON]
    return list(SEEDS[venue])


def seed_json(venue: str) -> list[str]:
    return HTX_JSON if venue == "htx" else SEEDS[venue]
